"""numberguard: keeps WhatsApp Business phone numbers inside their messaging limits."""

__version__ = "0.1.0"
