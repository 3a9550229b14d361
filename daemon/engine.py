"""The hub of jamd's music: player's MIDI and the time in, jamd's timed MIDI out. No ports, no threads.

The engine keeps time (``jamd.daemon.clock``), takes the player's notes, feeds the model exactly one
token every grid step (its state carried, never re-run) and sends what the mode's behaviour
decides (``daemon/modes.py``: respond, duet, next; ``daemon/accompany.py``: chords). The
behaviour says which token a step feeds (the player's, or jamd's own), what jamd sounds on the
next step and whether a player's note stops it; the engine keeps the books: the notes jamd
has sounding (``voice.Outbox``, their one owner), the player's keys, the idle reset.

The token for step k is fed when its window closes (half a step after ``T_k``), so a note
played a little late still counts; jamd's reply for step k+1 is then due half a step later.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Callable

import mido
import numpy as np

from jamd.daemon.blend import ShortTerm
from jamd.daemon.clock import Clock
from jamd.daemon import controls
from jamd.daemon.config import Config, key_name, pitch_range
from jamd.daemon.encoding import HOLD_ID, REST_ID, START_ID
from jamd.daemon.errors import JamdError
from jamd.daemon import harmony
from jamd.daemon.harmony import Palette
from jamd.daemon.kinds import check_mode
from jamd.daemon.messages import note_off, note_on
from jamd.daemon.model import StepModel, sample, shipped_models
from jamd.daemon.phase import PhraseBuffer, likeliest_origin
from jamd.daemon.modes import OUT_OF_KEY, Player, behaviour, fold
from jamd.daemon.poly_play import PolyTokens, clash_weights
from jamd.daemon.voice import Outbox, Scheduled, VelocityFollower

log = logging.getLogger("jamd.engine")

IDLE_RESET_BARS = 8  # nobody played for this long: start the next phrase from a fresh state
# A key "held" this long with no new note is a lost note-off (unplugged cable, dropped message):
# without this, one stuck key would keep respond mode from ever hearing a pause.
STUCK_KEY_BARS = 4
METRONOME_SECONDS = 0.05  # click length


class Engine:
    def __init__(self, config: Config, model: StepModel, rng: np.random.Generator,
                 load_model: Callable[[str], StepModel] | None = None):
        self.config = config
        self.model = model
        self.stm = ShortTerm.for_model(model)  # this session's phrases, blended with the LSTM
        self.rng = rng
        self.load_model = load_model
        self.clock = Clock(config.tempo, model.steps_per_beat, config.clock)
        self.out = Outbox()
        self.velocity = VelocityFollower()
        self.muted = False
        self.stats: dict = {"steps": 0, "resets": 0, "notes_in": 0, "notes_out": 0, "answers": 0,
                            "barge_ins": 0, "model_switches": 0, "bar_phase_changes": 0, "decision_ms_max": 0.0, "decision_ms_mean": 0.0}
        self._onsets: set[int] = set()  # pitches the player started in the open window
        self._held: set[tuple[int, int]] = set()  # the player's keys down, (channel, note)
        self.player = Player()  # what the behaviours know of the player, brought up to date each step
        self._idle_steps = 0  # steps in a row with nothing from anyone
        self._peeked: tuple[int, np.ndarray] | None = None  # (model steps, probabilities) at the last look-ahead
        self._listen_from = 0  # --count-off: the player's notes count from this grid step on
        self._heard = (-1, 0)  # (step, onsets) when the behaviour last heard the open step
        self._phrase = PhraseBuffer()  # the player's phrase, to find the bar phase from (daemon/phase.py)
        self._range_flags: tuple[str | None, np.ndarray] = (None, np.ones(128, bool))  # (--range, in_range())
        check_mode(config.mode, model.sidecar.model_kind, model.name)
        self._use_model(model)
        self._reset_model()

    def _use_model(self, model: StepModel) -> None:
        """The per-model tables: a melody model's ``palette``; a poly model's token ids
        (its grid step is several tokens, ended by the sidecar's ``step_token``)."""
        self.model, self.stm = model, ShortTerm.for_model(model)
        self.polyphonic = model.sidecar.step_token is not None
        self.palette = None if self.polyphonic else Palette(model.vocab)
        self.poly_tokens = PolyTokens(model.vocab) if self.polyphonic else None
        self.texture: set[int] = set()  # poly: the pitches the model has heard sounding (player's and jamd's)
        self._struck: set[int] = set()  # poly: the pitches jamd strikes on the open step

    @property
    def channel(self) -> int:
        return self.config.channel - 1

    @property
    def outputs(self) -> tuple[str, ...]:
        """What the model's probabilities score (a chords model: chord symbols)."""
        return self.model.sidecar.outputs

    @property
    def chord(self) -> str | None:
        """chords mode: the chord sounding, or chosen for the coming beat (its name); None if none."""
        chord = getattr(self.mode, "chord", None)  # only the chords behaviour has one
        return None if chord is None else self.model.sidecar.outputs[chord]

    # ---- time -------------------------------------------------------------------------

    def next_tick_time(self) -> float:
        """When ``tick`` must next be called (seconds on the caller's clock; inf = on input only).

        0.0 (at once) before the first call: that call starts the internal grid.
        """
        if not self.clock.anchored:
            return 0.0
        return min(self.clock.window_close(), self.out.next_time(), self._listen_time())

    def tick(self, now: float) -> list[Scheduled]:
        """Run every grid step due by ``now`` (seconds) and return the messages due by then."""
        if not self.clock.anchored:
            self.clock.anchor(now)
            if self.config.count_off and self.config.clock != "midi":
                self._count_off()
        self.clock.check_fallback(now)
        while True:
            close, listen = self.clock.window_close(), self._listen_time()
            if min(close, listen) > now:
                break
            if listen <= close:  # before the window closes: its onsets are still there to hear
                self._hear_open_step()
                continue
            began = time.perf_counter()
            self._close_window()
            self._measure(time.perf_counter() - began)
            self.clock.advance()
            # A tick late enough to close a pulse's step may also be past the fallback time, which
            # is no window close: without this it would close windows forever.
            self.clock.check_fallback(now)
        return self.out.due(now)

    def _listen_time(self) -> float:
        """When the behaviour wants to hear the open step's onsets (chords: the note struck on a beat)."""
        step = self.mode.listening
        if step is None or step != self.clock.step or not self.clock.running:
            return math.inf
        if self._heard == (step, len(self._onsets)):
            return math.inf  # heard already, and nothing struck since: a later onset is heard at once
        return self.clock.step_time(step) + self._listen_offset()

    def _listen_offset(self) -> float:
        return min(self.config.chord_wait, 0.45 * self.clock.step_seconds)  # before the window closes

    def _hear_open_step(self) -> None:
        step = self.clock.step
        self._heard = (step, len(self._onsets))
        pitches = self.mode.hear(self._onsets, self)
        if pitches is not None and not self.muted:
            self._perform(pitches, step, self._listen_offset())

    def _measure(self, seconds: float) -> None:
        ms, n = seconds * 1000.0, self.stats["steps"]
        self.stats["decision_ms_max"] = max(self.stats["decision_ms_max"], ms)
        self.stats["decision_ms_mean"] += (ms - self.stats["decision_ms_mean"]) / max(n, 1)

    # ---- input ------------------------------------------------------------------------

    def handle(self, msg: mido.Message, now: float, tick: bool = True) -> list[Scheduled]:
        """Take any incoming message at ``now`` (seconds); return what is due by then.

        ``tick=False``: the caller knows ``now`` is before ``next_tick_time()`` (asked since the
        engine last changed), so no grid step and no waiting message is due; the live input
        path saves the checks.
        """
        kind = getattr(msg, "type", None)
        if kind == "note_on" or kind == "note_off":
            return self.note(msg.channel, msg.note, msg.velocity if kind == "note_on" else 0, now, tick)
        out = self.tick(now) if tick else []
        if kind in ("clock", "start", "stop", "continue"):
            return out + self._on_clock(kind, now)
        if kind == "songpos":
            self.clock.on_song_position(msg.pos)
            return out
        channel = getattr(msg, "channel", None)
        if channel is None or (self.config.input_channel and channel != self.config.input_channel - 1):
            return out
        if kind == "control_change":
            out += self._control(msg.control, msg.value, now, channel)
        elif kind == "program_change" and channel + 1 == self.config.program_channel:
            out += self._switch_model(msg.program, now)
        return out + self.out.due(now)

    def note(self, channel: int, note: int, velocity: int, now: float, tick: bool = True) -> list[Scheduled]:
        """``handle`` for a note-on (``velocity`` > 0) or note-off given as numbers.

        Notes are nearly all of a player's input: the live path hands them over without
        building a message object (each Python step costs 5-15 us on the engine thread's cold
        caches).
        """
        out = self.tick(now) if tick else []
        if self.config.input_channel and channel != self.config.input_channel - 1:
            return out
        if velocity:
            out += self._note_on(channel, note, velocity, now)
        else:
            self._held.discard((channel, note))
            if self.config.thru:
                out += self.out.send_now(now, note_off(channel, note))
        if tick:
            out += self.out.due(now)
        return out

    def _note_on(self, channel: int, note: int, velocity: int, now: float) -> list[Scheduled]:
        if self.config.tap_note and note == self.config.tap_note:
            self.clock.tap(now)
            return []
        out = []
        if self.config.thru:
            out += self.out.send_now(now, note_on(channel, note, velocity))
        self.stats["notes_in"] += 1
        self.velocity.hear(velocity)
        if not self.clock.ready and not self.clock.resume_for_player(now):
            return out  # stopped, or no MIDI clock yet: no grid to put the note on
        if self.clock.step < self._listen_from:
            return out  # still counting off: the player is getting ready, not playing to jamd
        self._onsets.add(note)
        self._held.add((channel, note))
        if self.mode.stops_on_note and (self.mode.active or self.out.busy(self.channel)):
            self.stats["barge_ins"] += 1
            out += self._stop_jamd(now)
        return out

    def _on_clock(self, kind: str, now: float) -> list[Scheduled]:
        if kind == "clock":
            step = self.clock.on_pulse(now)
            if step is not None:
                self.out.retime(step, now)
            return self.tick(now)
        if kind == "start":
            self.clock.on_start(now)
            out = self._stop_jamd(now)
            self.stm.forget()  # a new song
            self._reset_model()
            return out
        if kind == "stop":
            self.clock.on_stop()
            return self._stop_jamd(now) if self.clock.following else []
        self.clock.on_continue(now)
        return []

    def link(self, now: float, beat: float, bpm: float, playing: bool | None = None) -> list[Scheduled]:
        """A sample of an Ableton Link session's timeline (``Clock.on_link``; daemon/link.py reads it).

        The session's Start is a MIDI Start (a new song), its Stop a MIDI Stop.
        """
        if self.clock.source != "link":
            return []  # a reload moved to another clock; the Link thread runs until restart
        change = self.clock.on_link(now, beat, bpm, self.config.beats_per_bar, playing)
        out = self._stop_jamd(now) if change in ("start", "stop") else []
        if change in ("stop", "relock"):  # clicks planned on the old beats
            out += self.out.cancel(self.config.metronome_channel - 1, now)
        if change == "start":
            self.stm.forget()
            self._reset_model()
        if self.clock.running:
            for step in (self.clock.step, self.clock.step + 1):  # what waits for them goes on the new grid
                self.out.retime(step, self.clock.step_time(step))
        return out

    def _control(self, control: int, value: int, now: float, channel: int = -1) -> list[Scheduled]:
        if control == 0:
            return []
        if control in (120, 123):  # the player's all-sound-off / all-notes-off releases their keys
            self._held = {key for key in self._held if key[0] != channel}
        setting = controls.for_cc(self.config, control)
        if setting is None or setting.from_cc is None:
            return []
        setting_value = setting.from_cc(value)
        return [] if setting_value is None else self.set(setting.name, setting_value, now)

    def set(self, name: str, value, now: float) -> list[Scheduled]:
        """Change the live setting ``name`` (daemon/controls.py) to ``value`` at ``now`` (seconds).

        What a CC or an OSC message does; returns the note-offs a switch makes due.
        """
        c = self.config
        if name == "mode":
            # Only the modes the model's kind plays (daemon/kinds.py): a chords model has one.
            modes = self.model.sidecar.model_kind.modes
            if isinstance(value, int):  # a CC band: the model's n-th mode
                value = modes[value] if 0 <= value < len(modes) else c.mode
            if value != c.mode and value in modes:
                self.config = c.replace(mode=value)
                out = self._stop_jamd(now)
                self.mode, self.mode_name = behaviour(value, self.polyphonic), value
                return out
        elif name in ("temperature", "answer_bars", "stm_strength"):
            self.config = c.replace(**{name: value})
        elif name == "mute":
            self.muted = bool(value)
            if self.muted:
                return self._stop_jamd(now)
        elif name == "panic":
            return self.panic(now)
        elif name == "tempo":
            self.clock.set_tempo(value)
            self.config = c.replace(tempo=round(self.clock.bpm, 2))
        elif name == "tap":
            self.clock.tap(now)
        elif name == "stm_reset":
            self.stm.forget()
        elif name == "model":
            return self._switch_model(value, now)
        return []

    def _switch_model(self, program: int, now: float) -> list[Scheduled]:
        names = shipped_models()
        if self.load_model is None or program >= len(names):
            return []
        out = self._stop_jamd(now)
        try:
            model = self.load_model(names[program])
            check_mode(self.config.mode, model.sidecar.model_kind, model.name)
            if (model.sidecar.step_token is None) == self.polyphonic:
                raise JamdError(f"{model.name} and {self.model.name} step the grid differently "
                                "(polyphonic and melody models): restart jamd with --model")
            self._use_model(model)
        except JamdError as e:
            log.warning("program change %d: keeping model %s: %s", program, self.model.name, e)
            return out
        self.stats["model_switches"] += 1
        self.clock.set_steps_per_beat(self.model.steps_per_beat)
        self._reset_model()
        return out

    # ---- output -----------------------------------------------------------------------

    def silence(self, now: float) -> list[Scheduled]:
        """End everything jamd has sounding at ``now``: note-offs, then sustain off and all notes off."""
        out = self.out.clear(now)
        self.mode.stop()
        for control, value in ((64, 0), (123, 0)):
            out.append((now, mido.Message("control_change", channel=self.channel, control=control, value=value)))
        return out

    def panic(self, now: float) -> list[Scheduled]:
        """Silence, and start listening from a fresh model state."""
        out = self.silence(now)
        self._reset_model()
        return out

    def _stop_jamd(self, now: float) -> list[Scheduled]:
        self.mode.stop()
        return self.out.cancel(self.channel, now)

    def _perform(self, decision, step: int, offset: float = 0.0) -> None:
        """What a behaviour decided for ``step``: a poly behaviour's ``Move``, else the pitches to sound."""
        (self._play if self.polyphonic else self._sound)(decision, step, offset)

    def _sound(self, pitches, step: int, offset: float = 0.0) -> None:
        """End jamd's notes and start ``pitches`` on grid ``step`` (``offset`` seconds after it), at
        the player's velocity."""
        when = self.clock.step_time(step)
        self.out.release(self.channel, when + offset, step)
        bounds = pitch_range(self.config.range)
        if bounds:  # --range: an instrument's compass; octaves keep the melody's pitch classes
            pitches = sorted({fold(p, *bounds) for p in pitches})
        for pitch in pitches:
            self.out.at(when, mido.Message("note_on", channel=self.channel, note=pitch,
                                           velocity=self.velocity.velocity), step, offset)
            self.stats["notes_out"] += 1

    # ---- the grid step ----------------------------------------------------------------

    def _reset_model(self, first_step: int | None = None) -> None:
        """A fresh state, fed ``start`` with the bar position of ``first_step`` (default the open step),
        the step whose token comes next."""
        self.model.reset()
        k = self.clock.step if first_step is None else first_step
        self.model.feed(START_ID, *self.clock.position(k, self.config.beats_per_bar))
        self.stm.reset()
        self.stats["resets"] += 1
        self._idle_steps = 0
        self.player.forget()
        self.texture = set()  # a fresh state has heard nothing sounding
        self.mode, self.mode_name = behaviour(self.config.mode, self.polyphonic), self.config.mode  # plans forgotten

    def _close_window(self) -> None:
        """Feed step k's token, then decide what jamd plays on step k+1."""
        k = self.clock.step
        if self.polyphonic:
            player = token = self._feed_texture(k)
        else:
            if self._onsets:
                player = self.model.vocab.nearest_id(self._onsets)
            else:
                player = HOLD_ID if self._held else REST_ID
            token = self.mode.heard(k, player)
            # With it the bar position of the step the model predicts next (daemon/metre.py).
            self.model.feed(token, *self.clock.position(k + 1, self.config.beats_per_bar))
            self.stm.learn(token)
        self.stats["steps"] += 1
        self.player.hear(player, self._onsets, self._held)
        if self.player.onset:
            self.stm.learn_note(self.player.pitch)
        self._hear_phrase(k, token, player)
        self._onsets.clear()
        steps_per_bar = self.clock.steps_per_beat * self.config.beats_per_bar
        if self._held and self.player.steps_since_onset >= STUCK_KEY_BARS * steps_per_bar:
            self._held.clear()
        nobody = player == REST_ID and not self.mode.active and not self.out.sounding(self.channel)
        self._idle_steps = self._idle_steps + 1 if nobody else 0
        if self.config.metronome and self.clock.is_beat(k + 1):
            self._click(k + 1)
        if not self.muted:
            pitches = self.mode.decide(k + 1, self)
            if pitches is not None:
                self._perform(pitches, k + 1)
        if self.mode.idle_resets and self._idle_steps >= IDLE_RESET_BARS * steps_per_bar:
            self._reset_model(k + 1)

    def _feed_texture(self, k: int) -> int:
        """Poly: feed step k as it sounded, the player's notes and jamd's (their ends, their onsets,
        ``step``); return REST_ID, HOLD_ID or an onset's id for the player's part, as ``Player`` hears it."""
        keys = self.player_keys()
        mine = self.mode.mine
        now = keys | self._onsets | mine
        struck = self._onsets | (self._struck & mine)
        offs = (self.texture - now) | (struck & self.texture)
        ids = self.poly_tokens.ids(offs, struck)
        here, after = self.clock.position(k, self.config.beats_per_bar), \
            self.clock.position(k + 1, self.config.beats_per_bar)
        for token in ids[:-1]:  # the step's own position, then after ``step`` the next step's
            self.model.feed(token, *here)
        self.model.feed(ids[-1], *after)
        self.texture = now
        self._struck = set()
        if self._onsets:
            return int(self.poly_tokens.on[max(self._onsets)])
        return HOLD_ID if keys else REST_ID

    def _play(self, move, step: int, offset: float = 0.0) -> None:
        """Poly: end ``move.offs`` and strike ``move.ons`` on grid ``step`` (``offset`` seconds after it)."""
        when = self.clock.step_time(step)
        for pitch in move.offs:
            self.out.at(when, note_off(self.channel, pitch), step, offset)
        for pitch in move.ons:
            self.out.at(when, mido.Message("note_on", channel=self.channel, note=pitch,
                                           velocity=self.velocity.velocity), step, offset)
            self.stats["notes_out"] += 1
        self._struck |= set(move.ons)

    def player_keys(self) -> set[int]:
        """The pitches of the player's keys down."""
        return {note for _, note in self._held}

    def position(self, step: int) -> tuple[int, int]:
        """(bar_step, bar_steps) of grid ``step``."""
        return self.clock.position(step, self.config.beats_per_bar)

    def key_weights(self) -> np.ndarray:
        """128 per-pitch weights: the key heard (``Player.key_weights``) spread over the octaves."""
        return np.tile(self.player.key_weights(), 11)[:128]

    def key(self) -> tuple[int, bool]:
        """(tonic pitch class, minor?): the configured ``key``, else the one heard in the player's notes
        (Aarden-Essen profiles, recent notes weighing more)."""
        return key_name(self.config.key) if self.config.key else harmony.key_of(self.player.counts)

    def scale_weights(self) -> np.ndarray:
        """128 per-pitch weights: 1 in the scale of ``key()``, ``OUT_OF_KEY`` elsewhere; all 1 before
        the player's first note when no key is configured. A melody alone leaves out pitch classes
        its chords need: the scale does not."""
        if not (self.player.notes or self.config.key):
            return np.ones(128)
        weights = np.full(12, OUT_OF_KEY)
        weights[list(harmony.scale_of(*self.key()))] = 1.0
        return np.tile(weights, 11)[:128]

    def in_range(self) -> np.ndarray:
        """128 flags: the pitches ``--range`` lets jamd strike (a poly model draws only those: folding
        its notes by octaves afterwards would tear the texture it heard from what sounded). Made again
        only when the setting changes: a poly behaviour asks at every step it imagines."""
        if self._range_flags[0] != self.config.range:
            bounds = pitch_range(self.config.range)
            flags = np.ones(128, bool)
            if bounds:
                flags[:bounds[0]] = flags[bounds[1] + 1:] = False
            self._range_flags = (self.config.range, flags)
        return self._range_flags[1]

    def clash_weights(self, sounding) -> np.ndarray:
        """128 per-pitch weights, lower for a pitch dissonant with one of ``sounding``, in the key heard."""
        return clash_weights(sounding) * self.key_weights()

    def _hear_phrase(self, k: int, token: int, player: int) -> None:
        """Keep the player's phrase; one beat into a pause, place the bar where the phrase is likeliest.

        Only on the internal clock with nobody saying where bar 1 is (no MIDI clock, no count-off).
        """
        if token != player:  # jamd played this step: the player's phrase is over
            self._phrase.clear()
            return
        if player not in (REST_ID, HOLD_ID) or self._phrase.count:
            self._phrase.add(k, token)
        beat = self.clock.steps_per_beat
        if self.player.silent_steps != beat or self._phrase.count < 4 * beat:
            return
        c = self.config
        if not c.infer_bar or c.count_off or self.clock.source == "link" or self.clock.following \
                or not self.model.hears_position or not self.model.sidecar.model_kind.writes_melody:
            return
        bar_steps = beat * c.beats_per_bar
        origin, _ = likeliest_origin(self.model, self._phrase.tokens(), self._phrase.first, bar_steps,
                                     max(1, beat // 2), self.clock.origin % bar_steps)  # every eighth
        if origin != self.clock.origin % bar_steps:
            self.clock.origin = origin
            self.stats["bar_phase_changes"] += 1

    # ---- what the behaviours ask of the hub --------------------------------------------

    def probabilities(self) -> np.ndarray:
        """What jamd draws from: the LSTM's probabilities blended with the short-term model's.

        Asked for only on a step where jamd plays: the softmax and the blend cost more than
        feeding and learning, which every step does.
        """
        if self._peeked is not None and self._peeked[0] == self.model.steps:
            return self._peeked[1].copy()  # the look-ahead left the model's scores of its last branch
        return self.stm.blend(self.model.probabilities(), self.config.stm_strength)

    def next_notes(self) -> np.ndarray:
        """The player's next note, 128 probabilities by MIDI pitch, from the notes they played
        before in the session (``ShortTerm.next_notes``); overwritten by the next call."""
        return self.stm.next_notes()

    def draw(self, probs: np.ndarray) -> int:
        """A token id drawn from ``probs`` at the configured temperature and top-k."""
        return sample(probs, self.config.temperature, self.config.top_k, self.rng)

    def look_ahead(self, steps: int) -> list[np.ndarray]:
        """Probabilities for each of the next ``steps`` steps if nothing new starts: the first is
        ``probabilities()``, the others what it would be after feeding hold, on a copy of the
        LSTM's state and of the short-term model's context (its in-song memory: which note
        followed this one earlier in the song)."""
        ahead = [self.probabilities().copy()]  # the blend's array is reused by the next blend
        if steps > 1:
            state, context, k = self.model.get_state(), self.stm.context, self.clock.step
            for j in range(1, steps):
                self.model.feed(HOLD_ID, *self.clock.position(k + 1 + j, self.config.beats_per_bar))
                self.stm.follow(HOLD_ID)
                ahead.append(self.stm.blend(self.model.probabilities(), self.config.stm_strength).copy())
            self.model.set_state(state)
            self.stm.context = context
            self._peeked = (self.model.steps, ahead[0])
        return ahead

    def _count_off(self) -> None:
        """One bar of clicks from the open step; the player is listened to after it."""
        beat = self.clock.steps_per_beat
        self.clock.origin = self.clock.step  # the count-off bar sets where every bar begins
        self._listen_from = self.clock.step + beat * self.config.beats_per_bar
        for step in range(self.clock.step, self._listen_from, beat):
            if step == self.clock.step or not self.config.metronome:  # the metronome clicks the later beats
                self._click(step)

    def _click(self, step: int) -> None:
        channel = self.config.metronome_channel - 1
        velocity = 110 if self.clock.is_bar(step, self.config.beats_per_bar) else 70
        when = self.clock.step_time(step)
        note = self.config.metronome_note
        self.out.at(when, mido.Message("note_on", channel=channel, note=note, velocity=velocity), step)
        self.out.at(when, mido.Message("note_off", channel=channel, note=note), step, METRONOME_SECONDS)

