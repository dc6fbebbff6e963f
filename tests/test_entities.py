import subprocess
import sys

from ipinsights.entities import entity_rows, hash_entities


def test_the_entity_hash_is_64_bit_fnv1a_of_the_stripped_utf8_bytes():
    # Reference values of FNV-1a 64: "" -> cbf29ce484222325, "a" -> af63dc4c8601ec8c, "foobar" -> 85944171f73967e8.
    h = hash_entities(["", "a", "foobar", "  foobar\t"])
    assert [f"{int(x):016x}" for x in h] == ["cbf29ce484222325", "af63dc4c8601ec8c", "85944171f73967e8", "85944171f73967e8"]
    assert hash_entities(["Zoë"])[0] != hash_entities(["Zoe"])[0]


def test_the_entity_hash_is_the_same_in_a_fresh_process():
    code = "from ipinsights.entities import hash_entities; print([int(x) for x in hash_entities(['user_1', 'ärger', 'x'*300])])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == str([int(x) for x in hash_entities(["user_1", "ärger", "x" * 300])])


def test_entity_rows_are_the_hash_modulo_the_table_size():
    h = hash_entities(["a", "b", "c"])
    assert entity_rows(h, 1000).tolist() == [int(x) % 1000 for x in h]
    assert entity_rows(h, 1).tolist() == [0, 0, 0]
