"""zone.wire_reload, the reload by difference: after any chain of edits, the version it makes from
the served one holds the same RRsets as a whole-file read of the new text (zone.wire_load, itself
the twin of zone.load), and it refuses whenever that read refuses."""

from __future__ import annotations

import pathlib
import tempfile

import dns.name
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hiddenprimary.zone.diff import diff
from hiddenprimary.zone.wire_load import load_wire
from hiddenprimary.zone import text_pages, wire_reload
from hiddenprimary.zone.wire_reload import reload_wire

EXAMPLE = dns.name.from_text("example.")
HEADER = "$TTL 300\n@ IN SOA ns1 hostmaster (\n        {serial} ; serial\n        7200 3600 1209600 300 )\n  NS ns1\nns1 A 192.0.2.53\n"

OWNERS = ["host", "Host", "web.eu", "*.w", "", "", "x.example.", "mail", "@", "ns1", "deep.web.eu", "HOST.example."]
VALUES = {
    "A": ["192.0.2.1", "10.0.0.1", "10.0.0.2"],
    "AAAA": ["2001:db8::1", "::1"],
    "MX": ["10 mail", "20 host"],
    "TXT": ['"v=spf1 -all"', "word", '"a b" c'],
    "CNAME": ["host", "target.other."],
    "PTR": ["p.other."],
    "SRV": ["0 5 5060 host"],
}
DIRECTIVES = ["$TTL 600", "$ORIGIN eu.example.", "$ORIGIN example.", "; a comment", ""]


@st.composite
def record_line(draw) -> str:
    owner = draw(st.sampled_from(OWNERS))
    fields = [owner if owner else draw(st.sampled_from([" ", "\t"]))]
    if draw(st.integers(0, 4)) == 0:
        fields.append(draw(st.sampled_from(["300", "600"])))
    rdtype = draw(st.sampled_from(sorted(VALUES)))
    fields += [rdtype, draw(st.sampled_from(VALUES[rdtype]))]
    return " ".join(fields)


any_line = st.one_of(record_line(), record_line(), record_line(), st.sampled_from(DIRECTIVES))


@st.composite
def edit(draw, lines: list[str]) -> list[str]:
    lines = list(lines)
    op = draw(st.sampled_from(["add", "remove", "change", "swap", "change", "copy"]))
    if op == "add" or not lines:
        lines.insert(draw(st.integers(0, len(lines))), draw(any_line))
    elif op == "remove":
        del lines[draw(st.integers(0, len(lines) - 1))]
    elif op == "change":
        lines[draw(st.integers(0, len(lines) - 1))] = draw(any_line)
    elif op == "copy":
        lines.insert(draw(st.integers(0, len(lines))), lines[draw(st.integers(0, len(lines) - 1))])
    else:
        i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
        lines[i], lines[j] = lines[j], lines[i]
    return lines


@st.composite
def histories(draw) -> list[tuple[int, list[str]]]:
    body = draw(st.lists(record_line(), max_size=12))
    serial = 1
    steps = [(serial, body)]
    for _ in range(draw(st.integers(1, 5))):
        for _ in range(draw(st.integers(1, 3))):
            body = draw(edit(body))
        if draw(st.booleans()):
            serial += 1
        steps.append((serial, body))
    return steps


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=histories(), policy_serial=st.booleans(), page=st.sampled_from([1, 7, 40, 1 << 16]),
       spilled=st.booleans())
def test_a_reload_by_difference_equals_a_whole_file_read(history, policy_serial, page, spilled):
    # `page`: how much text the changed-region search compares at once (the zones here are small);
    # `spilled`: the last text is in a file, only its pages' digests held (as the runner keeps it)
    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as patch:
        patch.setattr(text_pages, "PAGE", page)
        path = pathlib.Path(folder) / "zone.db"
        served = memo = None
        for serial, body in history:
            path.write_text(HEADER.format(serial=serial) + "\n".join(body) + "\n")
            whole = load_wire(str(path), EXAMPLE)
            again = reload_wire(str(path), EXAMPLE, None, memo, served)
            if again is not None:
                assert whole is not None, "the reload by difference took what a whole read refuses"
                assert diff(again.version, whole.version).is_empty()
                assert again.version.serial == whole.version.serial == serial
                assert again.version.rr_count == whole.version.rr_count
                assert [n.to_text().lower() for n in again.version.names()] == \
                    [n.to_text().lower() for n in whole.version.names()]
                changed = diff(served, whole.version)  # every owner that changed is one it read again
                assert {name for name, _ in changed.added + changed.removed} <= again.touched
            loaded = again or whole
            if loaded is not None:  # as the runner: a refused file leaves the last good one served
                memo = wire_reload.spill(loaded.memo, f"{folder}/memo") if spilled else loaded.memo
                # A serial policy serves another serial than the file's: only the SOA differs.
                served = loaded.version.with_serial(serial + 1000) if policy_serial else loaded.version


def test_ten_changed_records_of_a_big_zone_are_read_alone(tmp_path):
    path = tmp_path / "zone.db"
    hosts = [f"host{i} A 10.{i // 65536}.{i // 256 % 256}.{i % 256}" for i in range(5000)]
    path.write_text(HEADER.format(serial=1) + "\n".join(hosts) + "\n")
    first = load_wire(str(path), EXAMPLE)
    edited = list(hosts)
    for i in range(0, 5000, 500):
        edited[i] = f"host{i} A 192.0.2.{i // 500}"
    path.write_text(HEADER.format(serial=2) + "\n".join(edited) + "\n")
    again = reload_wire(str(path), EXAMPLE, None, first.memo, first.version)
    assert again is not None
    assert {n.to_text() for n in again.touched} == {f"host{i}.example." for i in range(0, 5000, 500)} | {"example."}
    assert diff(again.version, load_wire(str(path), EXAMPLE).version).is_empty()
    changes = diff(first.version, again.version)
    assert changes.added_count == changes.removed_count == 10 and changes.serial_to == 2


def test_what_the_reload_by_difference_leaves_to_a_whole_read(tmp_path):
    path = tmp_path / "zone.db"
    base = HEADER.format(serial=1) + "www A 192.0.2.1\n"
    path.write_text(base)
    first = load_wire(str(path), EXAMPLE)
    for edited in [
        base + "$TTL 60\nnew A 192.0.2.2\n",                 # a directive added
        base + "sub NS ns.other.\n",                        # a delegation
        base.replace("$TTL 300\n", "") + "x 300 A 192.0.2.3\n",   # no $TTL in force
        base + "ü A 192.0.2.4\n",                           # not ASCII
        base + "out.other. A 192.0.2.5\n",                  # out of zone
        base + "www CNAME host\n",                          # CNAME and other data
    ]:
        path.write_text(edited)
        assert reload_wire(str(path), EXAMPLE, None, first.memo, first.version) is None, edited


@pytest.mark.parametrize("before, after", [
    # The same line moved across an $ORIGIN: same text, another owner.
    (["host 300 A 192.0.2.1", "$ORIGIN eu.example.", "host PTR p.other."],
     ["$ORIGIN eu.example.", "host 300 A 192.0.2.1", "host PTR p.other."]),
    # A blank-owner record after a directive belongs to the owner named before it.
    (["$TTL 600", "  PTR p.other."], ["; a comment", "$TTL 600", "  PTR p.other."]),
    (["$TTL 600", "  PTR p.other."], ["host 300 PTR p.other.", "$TTL 600", "  PTR p.other."]),
])
def test_context_changes_that_no_block_text_shows(tmp_path, before, after):
    path = tmp_path / "zone.db"
    path.write_text(HEADER.format(serial=1) + "\n".join(before) + "\n")
    first = load_wire(str(path), EXAMPLE)
    path.write_text(HEADER.format(serial=1) + "\n".join(after) + "\n")
    again = reload_wire(str(path), EXAMPLE, None, first.memo, first.version)
    whole = load_wire(str(path), EXAMPLE)
    assert again is None or diff(again.version, whole.version).is_empty()



@settings(max_examples=300, deadline=None)
@given(lines=st.lists(st.sampled_from(["www a 1", "www2 a 1", "ww", "  www a", "@ ns x", "mail.eu mx 1", "mail",
                                       "", ";www", "www.", "wwww\tb", "WwW a 1", "Mail.EU mx 1", "MAIL"]), max_size=30),
       words=st.sets(st.sampled_from(["www", "ww", "@", "mail", "mail.eu", "www2"]), min_size=1),
       ends=st.sampled_from([" \t\n", " \t\n."]), chunk=st.sampled_from([1, 7, 1 << 20]))
def test_lines_starting_finds_the_lines_a_word_opens(lines, words, ends, chunk):
    """The candidate search (one regular expression over a lowered slice at a time) against its
    plain twin: each line whose text starts with a word, in any case, followed by an end
    character or the end of the text."""
    text = "\n".join(lines)
    plain, at = [], 0
    for line in lines:
        low = line.lower()
        if any(low.startswith(w) and (len(low) == len(w) or low[len(w)] in ends) for w in words):
            plain.append(at)
        at += len(line) + 1
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(wire_reload, "_CHUNK", chunk)
        found = wire_reload._lines_starting(text.encode(), {w.encode() for w in words}, ends.encode())
    assert found == plain


def _blocks(text: bytes):
    import collections

    return collections.Counter(wire_reload._region_blocks(text))


@settings(max_examples=400, deadline=None)
@given(old=st.lists(st.sampled_from(["a A 1", "b A 2", " TXT x", "c A 3", "; note", "", "d\tA 4", "a A 1"]),
                    max_size=40),
       edits=st.lists(st.tuples(st.integers(0, 40), st.integers(0, 3), st.sampled_from(["e A 5", " TXT y", "a A 1", ""])),
                      max_size=6),
       page=st.integers(1, 60))
def test_changed_regions_hold_every_block_that_differs(old, edits, page):
    """Outside the regions both texts hold the same blocks; the regions are whole blocks of each."""
    new = list(old)
    for at, removed, line in edits:
        at = min(at, len(new))
        new[at:at + removed] = [line]
    old_text, new_text = ("\n".join(old) + "\n").encode(), ("\n".join(new) + "\n").encode()
    with pytest.MonkeyPatch.context() as patch, tempfile.TemporaryDirectory() as folder:
        patch.setattr(text_pages, "PAGE", page)
        regions = wire_reload._changed_regions(text_pages.MemoryPages(old_text), new_text)
        # The twin: the old text in a file, only its pages' digests held
        on_disk = text_pages.write(old_text, f"{folder}/memo", (), True)
        assert wire_reload._changed_regions(on_disk, new_text) == regions
    if regions is None:  # too much differs to search through: the caller cuts both texts whole
        return
    old_parts, new_parts = _blocks(b""), _blocks(b"")
    for old_part, new_part in regions:
        old_parts += _blocks(old_part)
        new_parts += _blocks(new_part)
    everything_old, everything_new = _blocks(old_text), _blocks(new_text)
    assert not old_parts - everything_old and not new_parts - everything_new  # whole blocks of each text
    assert everything_old - old_parts == everything_new - new_parts
    if old_text == new_text:
        assert regions == []


def test_scattered_edits_of_a_big_text_are_a_few_small_regions():
    lines = [f"host{i} A 10.{i // 65536}.{i // 256 % 256}.{i % 256}" for i in range(100_000)]  # ~2.3 MB
    edited = list(lines)
    for i in range(90_000, -1, -10_000):  # ~230k characters apart: one page each
        edited[i:i + 1] = [f"host{i} A 192.0.2.1", f"new{i} TXT added"]  # a change and an insertion
    del edited[-5]
    old, new = ("\n".join(lines) + "\n").encode(), ("\n".join(edited) + "\n").encode()
    regions = wire_reload._changed_regions(text_pages.MemoryPages(old), new)
    assert regions is not None and len(regions) == 11
    assert sum(len(o) + len(n) for o, n in regions) < 22 * 2 * (text_pages.PAGE + 100)
    changed = {b for _, n in regions for b in wire_reload._region_blocks(n)} - \
        {b for o, _ in regions for b in wire_reload._region_blocks(o)}
    assert changed == {f"host{i} A 192.0.2.1".encode() for i in range(0, 100_000, 10_000)} | \
        {f"new{i} TXT added".encode() for i in range(0, 100_000, 10_000)}


def test_a_memo_file_changed_under_its_digests_makes_a_whole_read(tmp_path):
    path = tmp_path / "zone.db"
    path.write_text(HEADER.format(serial=1) + "".join(f"h{i} A 10.0.0.{i}\n" for i in range(200)))
    first = load_wire(str(path), EXAMPLE)
    memo = wire_reload.spill(first.memo, str(tmp_path / "memo"))
    assert memo.text is None and (tmp_path / "memo").read_bytes() == path.read_bytes()
    path.write_text(HEADER.format(serial=2) + "".join(f"h{i} A 10.0.0.{i}\n" for i in range(201)))
    assert reload_wire(str(path), EXAMPLE, None, memo, first.version) is not None
    (tmp_path / "memo").write_bytes((tmp_path / "memo").read_bytes().replace(b"h7 ", b"h8 "))
    assert reload_wire(str(path), EXAMPLE, None, memo, first.version) is None  # a page reads back changed
    (tmp_path / "memo").unlink()
    assert reload_wire(str(path), EXAMPLE, None, memo, first.version) is None
