def test_new_then_repeat_then_limit(moto_stack, clock):
    moto_stack.register(tier="TIER_250")
    checker = moto_stack.checker()
    first = checker.handle({"phone_number_id": "106540352242922", "recipient": "16505551234", "message": "template"})
    assert first["decision"] == "ALLOWED_NEW_RECIPIENT", first
    assert first["used"] == 1 and first["remaining"] == 249
    clock.advance(3600)
    again = checker.handle({"phone_number_id": "106540352242922", "recipient": "16505551234", "message": "template"})
    assert again["decision"] == "ALLOWED_ALREADY_COUNTED", again
    assert again["used"] == 1
