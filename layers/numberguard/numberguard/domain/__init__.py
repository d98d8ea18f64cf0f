"""Pure rules of the WhatsApp Business Platform: no I/O, time always passed in."""
