"""The input path's fast parser reads every message exactly as mido does, and rejects what mido rejects."""

import itertools

import mido

from jamd.daemon.messages import from_bytes, note_off, note_on, to_bytes

DATA = [[], [0], [5, 7], [127, 0], [64, 127], [3], [128, 1], [1, 128], [1, 2, 3], [0x90, 60]]


def parsed(parse, data):
    try:
        return parse(data)
    except (ValueError, TypeError, IndexError, KeyError):  # what the service counts as unreadable
        return None


def test_every_status_byte_parses_and_encodes_as_mido_does():
    for data in ([status] + rest for status in range(0x80, 0x100) for rest in DATA):
        want, got = parsed(mido.Message.from_bytes, data), parsed(from_bytes, data)
        if want is None:
            assert got is None, data
        else:
            assert type(got) is mido.Message and got == want and got.bytes() == want.bytes(), data
            assert to_bytes(got) == want.bytes(), data  # what jamd sends


def test_note_off_and_note_on_are_the_messages_mido_builds():
    for channel, note in itertools.product((0, 9, 15), (0, 60, 127)):
        assert note_off(channel, note) == mido.Message("note_off", channel=channel, note=note, velocity=0)
        for velocity in (1, 64, 127):
            got, want = note_on(channel, note, velocity), mido.Message("note_on", channel=channel, note=note,
                                                                         velocity=velocity)
            assert got == want and got.bytes() == want.bytes()
