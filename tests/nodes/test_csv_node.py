"""csv: both parsers (RFC 4180 and legacy) both ways, from the scenarios of Node-RED's
``70-CSV_spec.js``; Node-RED's example flows with the output Node-RED 4.1.15 gave; a
differential run against Node-RED's own node where Node.js and Node-RED are installed;
and a hypothesis fuzz of the parsers (any text or bytes: a result or a named error, in
bounded time)."""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from flowrt_nodes.csv_node import MAX_INPUT_CHARS, CsvParseError, rfc_parse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowrt.errors import DeployError
from flowrt.messages import Message
from flowrt.testing import FlowHarness

EXAMPLES = Path(__file__).resolve().parents[1] / "compat" / "flows" / "nodered-examples"
DATA = Path(__file__).resolve().parent / "data"
# Node-RED as bench/ installs it (in this checkout, or the one named by FLOWRT_NODE_RED).
NODE_RED = Path(os.environ.get("FLOWRT_NODE_RED") or Path(__file__).resolve().parents[2]
                / "bench" / ".cache" / "node_modules" / "@node-red")


def csv_flow(**config: Any) -> list[dict[str, Any]]:
    return [{"id": "t1", "type": "tab", "label": "csv"},
            {"id": "n1", "type": "csv", "z": "t1", "x": 0, "y": 0, "wires": [[]], **config},
            {"id": "c", "type": "catch", "z": "t1", "x": 0, "y": 0, "scope": None,
             "wires": [[]]}]


async def run(config: dict[str, Any], *msgs: Message) -> FlowHarness:
    async with FlowHarness(csv_flow(**config)) as h:
        for msg in msgs:
            await h.inject("n1", msg)
    return h


def rows(h: FlowHarness) -> list[Any]:
    return h.payloads("n1")


# ------------------------------------------------------------- CSV → objects
# (mode, config, input, the payloads out, msg.columns out): Node-RED's spec, both parsers.
TO_OBJECTS = [
    ("both", {"temp": "a,b,c,d"}, "1,2,3,4\n", [{"a": 1, "b": 2, "c": 3, "d": 4}], "a,b,c,d"),
    ("both", {"sep": "|"}, "1|2|3|4\n", [{"col1": 1, "col2": 2, "col3": 3, "col4": 4}],
     "col1,col2,col3,col4"),
    ("both", {"sep": "\t", "temp": "A,B,,D"}, "1\t2\t3\t4\n", [{"A": 1, "B": 2, "D": 4}],
     "A,B,D"),
    ("both", {"sep": "\\t", "temp": "A,B,,D"}, "1\t2\t3\t4\n", [{"A": 1, "B": 2, "D": 4}],
     "A,B,D"),
    ("legacy", {"sep": " ", "temp": "A, B, , D"}, "1 2 3 4\n", [{"A": 1, "B": 2, "D": 4}],
     "A,B,D"),
    ("legacy", {"temp": '"a",  "b" , " c "," d  " '}, "1,2,3,4\n",
     [{"a": 1, "b": 2, "c": 3, "d": 4}], "a,b,c,d"),
    ("both", {"temp": "a,,,d"}, "1,2,3,4\n", [{"a": 1, "d": 4}], "a,d"),
    ("both", {"temp": 'a,b b,"c,c"," d, d "'.replace('" d, d "', '"d, d"')}, "1,2,3,4\n",
     [{"a": 1, "b b": 2, "c,c": 3, "d, d": 4}], 'a,b b,"c,c","d, d"'),
    ("legacy", {"hdrin": True}, 'a,b b,"c,c"," d, d "\n1,2,3,4\n',
     [{"a": 1, "b b": 2, "c,c": 3, "d, d": 4}], 'a,b b,"c,c","d, d"'),
    ("rfc", {"hdrin": True}, 'a,b b,"c,c","d, d"\n1,2,3,4\n',
     [{"a": 1, "b b": 2, "c,c": 3, "d, d": 4}], 'a,b b,"c,c","d, d"'),
    ("legacy", {"hdrin": True, "sep": ";"}, 'a;b b;"c;c";" d, d "\n1;2;3;4\n',
     [{"a": 1, "b b": 2, "c;c": 3, "d, d": 4}], 'a,b b,c;c,"d, d"'),
    ("legacy", {"hdrin": True, "sep": "\\"}, 'a\\b b\\"c\\c"\\" d, d "\n1\\2\\3\\4\n',
     [{"a": 1, "b b": 2, "c\\c": 3, "d, d": 4}], 'a,b b,c\\c,"d, d"'),
    ("both", {"temp": "a,b,c,d,e,f,g"}, "123,0123,+123,e123,E123,-123\n",
     [{"a": 123, "b": "0123", "c": "+123", "d": "e123", "e": "E123", "f": -123}],
     "a,b,c,d,e,f,g"),
    ("both", {"temp": "a,b,c,d,e,f,g", "strings": False}, "1.23,0123,+123,e123,0,-123,1e3\n",
     [{"a": "1.23", "b": "0123", "c": "+123", "d": "e123", "e": "0", "f": "-123", "g": "1e3"}],
     "a,b,c,d,e,f,g"),
    ("both", {"temp": "a,b,c,d,e,f,g"}, " 1.23 ,  -123,1e3 ,    0  \n",
     [{"a": 1.23, "b": -123, "c": 1000, "d": 0}], "a,b,c,d,e,f,g"),
    ("both", {"temp": "a,b,c,d,e,f,g"}, "12E3,12e-3,-12e3,-12E-3\n",
     [{"a": 12000, "b": 0.012, "c": -12000, "d": -0.012}], "a,b,c,d,e,f,g"),
    ("both", {"temp": "a,b,c,d,e,f,g,h"}, '"1","-2","+3","04","","-05","ab""cd","with,a,comma"\n',
     [{"a": 1, "b": -2, "c": "+3", "d": "04", "f": "-05", "g": 'ab"cd', "h": "with,a,comma"}],
     "a,b,c,d,e,f,g,h"),
    ("rfc", {"temp": "a,b,c,d,e,f,g", "include_empty_strings": True},
     '"1","","","","-05","ab""cd","with,a,comma"\n',
     [{"a": 1, "b": "", "c": "", "d": "", "e": "-05", "f": 'ab"cd', "g": "with,a,comma"}],
     "a,b,c,d,e,f,g"),
    # Legacy sends a second row for the empty text after the final newline (Node-RED's
    # spec only looks at the first message; Node-RED 4.1.15 sends both).
    ("legacy", {"temp": "a,b,c,d,e,f,g", "include_empty_strings": True},
     '"1","","","","-05","ab""cd","with,a,comma"\n',
     [{"a": 1, "b": "", "c": "", "d": "", "e": "-05", "f": 'ab"cd', "g": "with,a,comma"},
      {"a": ""}], "a,b,c,d,e,f,g"),
    ("both", {"temp": "a,b,c,d,e,f,g", "include_null_values": True},
     '"1",,"+3",,"-05","ab""cd","with,a,comma"\n',
     [{"a": 1, "b": None, "c": "+3", "d": None, "e": "-05", "f": 'ab"cd', "g": "with,a,comma"}],
     "a,b,c,d,e,f,g"),
    ("both", {"temp": "a,b,c,d,e,f,g"},
     '"with a\nnew line","and a\rcarriage return","and why\r\nnot both"\n',
     [{"a": "with a\nnew line", "b": "and a\rcarriage return", "c": "and why\r\nnot both"}],
     "a,b,c,d,e,f,g"),
    ("legacy", {"temp": "a,b,c,d,e,f,g"}, '"with,a"n,odd","num"ber","of"qu"ot"es"\n',
     [{"a": "with,an", "b": "odd,number", "c": "ofquotes\n"}], "a,b,c,d,e,f,g"),
    ("rfc", {"temp": "a,b,c,d,e,f,g"}, '"with,a"n,odd","num"ber","of"qu"ot"es"\n',
     [{"a": 'with,a"n', "b": "odd", "c": 'num"ber', "d": 'of"qu"ot"es'}], "a,b,c,d,e,f,g"),
    ("rfc", {"temp": "a,b,c,d,e,f,g"}, 'ay,be,"c has 2\nnew\nlines",dee,eee,eff,gee',
     [{"a": "ay", "b": "be", "c": "c has 2\nnew\nlines", "d": "dee", "e": "eee", "f": "eff",
       "g": "gee"}], "a,b,c,d,e,f,g"),
    ("both", {"temp": "a,b,c,d,e"}, "a,127.0.0.1,56.7,-32.8,+76.22C",
     [{"a": "a", "b": "127.0.0.1", "c": 56.7, "d": -32.8, "e": "+76.22C"}], "a,b,c,d,e"),
    ("both", {"temp": "a,b,c,d", "skip": 2}, "1,2,3,4\n5,6,7,8\n9,0,A,B\n",
     [{"a": 9, "b": 0, "c": "A", "d": "B"}], "a,b,c,d"),
    ("both", {"temp": "a,b,c,d", "hdrin": True, "skip": 2}, "1,2,3,4\n5,6,7,8\n9,0,A,B\nC,D,E,F\n",
     [{"9": "C", "0": "D", "A": "E", "B": "F"}], "9,0,A,B"),
    # Node-RED 4's RFC rules (reference §6): "true" and "007" stay strings, "0x1F" is 31,
    # empty cells are left out, a trailing row separator adds no row.
    ("rfc", {"temp": "a,b,c,d"}, "true,007,0x1F,\r\n", [{"a": "true", "b": "007", "c": 31}],
     "a,b,c,d"),
    ("legacy", {"temp": "a,b,c,d"}, "true,007,0x1F,\n", [{"a": "true", "b": "007", "c": "0x1F"}],
     "a,b,c,d"),
]


def mode_cases() -> list[Any]:
    cases = []
    for mode, config, text, payloads, columns in TO_OBJECTS:
        for spec in (("rfc", "") if mode == "both" else ("rfc",) if mode == "rfc" else ("",)):
            cases.append(pytest.param({**config, "spec": spec}, text, payloads, columns,
                                      id=f"{spec or 'legacy'}-{len(cases)}"))
    return cases


@pytest.mark.parametrize(("config", "text", "payloads", "columns"), mode_cases())
async def test_csv_to_objects_as_node_reds_spec(config, text, payloads, columns):
    h = await run(config, {"_msgid": "m1", "payload": text})
    out = h.outputs("n1")
    assert [m["payload"] for m in out] == payloads
    assert all(m["columns"] == columns for m in out)
    assert [m["parts"] for m in out] == [{"id": "m1", "index": i, "count": len(payloads)}
                                        for i in range(len(payloads))]
    assert h.outputs("c") == []


@pytest.mark.parametrize("spec", ["rfc", ""])
async def test_one_message_per_row_or_one_array(spec):
    text = "w,x,y,z\n1,2,3,4\n\n5,6,7,8"
    h = await run({"spec": spec, "temp": "a,b,c,d", "hdrin": True}, {"payload": text})
    assert rows(h) == [{"w": 1, "x": 2, "y": 3, "z": 4}, {"w": 5, "x": 6, "y": 7, "z": 8}]
    assert [m["parts"]["index"] for m in h.outputs("n1")] == [0, 1]
    h = await run({"spec": spec, "temp": "a,b,c,d", "multi": "mult"},
                  {"payload": "1,2,3,4\n5,-6,07,+8\n9,0,a,b\nc,d,e,f"})
    (msg,) = h.outputs("n1")
    assert msg["payload"] == [{"a": 1, "b": 2, "c": 3, "d": 4}, {"a": 5, "b": -6, "c": "07",
                              "d": "+8"}, {"a": 9, "b": 0, "c": "a", "d": "b"},
                              {"a": "c", "b": "d", "c": "e", "d": "f"}]
    assert msg["columns"] == "a,b,c,d" and "parts" not in msg


@pytest.mark.parametrize("spec", ["rfc", ""])
async def test_a_sequence_of_lines_is_one_file(spec):
    # Lines from a split or file node: the header is the first part, the array is sent
    # when the last part arrives, without msg.parts.
    lines = ["a,b,c", "1,2,3", "4,5,6", "7,8,9"]
    msgs = [{"payload": line, "parts": {"index": i, "ch": "\n", "type": "string", "id": "1"}}
            for i, line in enumerate(lines)]
    msgs[-1]["parts"]["count"] = 4
    h = await run({"spec": spec, "hdrin": True, "multi": "mult"}, *msgs)
    (msg,) = h.outputs("n1")
    assert msg["payload"] == [{"a": 1, "b": 2, "c": 3}, {"a": 4, "b": 5, "c": 6},
                              {"a": 7, "b": 8, "c": 9}]
    assert msg["columns"] == "a,b,c" and "parts" not in msg
    # One message per row: parts renumbered without the header (and skipped lines).
    msgs = [{"payload": p, "parts": {"id": "X", "index": i, "count": 5}}
            for i, p in enumerate(["foo\n", "bar\n", "w,x,y,z\n", "1,2,3,4\n", "5,6,7,8\n"])]
    h = await run({"spec": spec, "hdrin": True, "skip": 2}, *msgs)
    out = h.outputs("n1")
    assert [m["payload"] for m in out] == [{"w": 1, "x": 2, "y": 3, "z": 4},
                                           {"w": 5, "x": 6, "y": 7, "z": 8}]
    assert [m["parts"] for m in out] == [{"id": "X", "index": 0, "count": 2},
                                         {"id": "X", "index": 1, "count": 2}]
    assert [m.get("complete") for m in out] == [None, True]
    assert all(m["columns"] == "w,x,y,z" for m in out)


@pytest.mark.parametrize("spec", ["rfc", ""])
async def test_parts_are_kept_and_a_file_with_lines_in_one_part_is_split(spec):
    h = await run({"spec": spec, "temp": "a,b,c,d"},
                  {"payload": "1,2,3,4\n", "parts": {"id": "X", "index": 3, "count": 4}})
    (msg,) = h.outputs("n1")
    assert msg["parts"] == {"id": "X", "index": 3, "count": 4} and msg["complete"] is True
    h = await run({"spec": spec, "hdrin": True, "multi": "mult"},
                  {"payload": "Col1,Col2\nV1,V2\nV3,V4\nV5,V6",
                   "parts": {"id": "3a", "type": "array", "count": 2, "len": 1, "index": 0}})
    (msg,) = h.outputs("n1")
    assert msg["payload"] == [{"Col1": "V1", "Col2": "V2"}, {"Col1": "V3", "Col2": "V4"},
                              {"Col1": "V5", "Col2": "V6"}]
    assert msg["columns"] == "Col1,Col2" and msg["parts"]["index"] == 0


async def test_legacy_odd_quotes_warn_and_recover():
    h = await run({"spec": "", "temp": "a,b,c,d,e,f,g"},
                  {"payload": '"with,a"n,odd","num"ber","of"qu"ot"es"\n'
                              '"this is","a normal","line"\n'},
                  {"payload": '"this is","another","line"'})
    assert rows(h) == [{"a": "with,an", "b": "odd,number",
                        "c": "ofquotes\nthis is,a normal,line\n"},
                       {"a": "this is", "b": "another", "c": "line"}]
    assert [w["msg"] for w in h.warnings] == ["Malformed CSV data - output probably corrupt."]


# ------------------------------------------------------------- objects → CSV
TO_CSV = [
    ({"temp": "a,b,c,,e,f,g,h,i,j,k"},
     {"e": 0, "d": 1, "b": "foo", "c": True, "a": 4, "f": "Hello\nWorld", "i": "undefined",
      "j": None, "k": "null"}, '4,foo,true,,0,"Hello\nWorld",,,undefined,null,null'),
    ({"temp": ""}, {"d": 1, "b": "foo", "c": 'ba"r', "a": "di,ng", "f": "undefined", "g": None,
                    "h": "null"}, '1,foo,"ba""r","di,ng",undefined,null'),
    ({"temp": "", "sep": "\t"}, {"d": 1, "b": "foo", "c": 'ba"r', "a": "di,ng"},
     '1\tfoo\t"ba""r"\tdi,ng'),
    ({"temp": "a,b o,c p,,e"}, {"e": 0, "d": 1, "b o": "foo", "c p": True, "a": 4},
     "4,foo,true,,0"),
    ({"temp": "a,d,c,b"}, [{"d": 1, "b": 3, "c": 2, "a": 4}, {"d": 4, "a": 1, "c": 3, "b": 2}],
     "4,1,2,3{ret}1,4,3,2"),
    ({"temp": "a,b,c,d", "hdrout": "all"},
     [{"d": 1, "b": 3, "c": 2, "a": 4}, {"d": "a\nb", "a": 1, "c": 3, "b": 2}],
     'a,b,c,d{ret}4,3,2,1{ret}1,2,3,"a\nb"'),
    ({"temp": ""}, [{"d": 1, "b": 3, "c": 2, "a": 4}, {"d": 4, "a": 1, "c": 3, "b": 2}],
     "1,3,2,4{ret}4,2,3,1"),
    ({"temp": "", "hdrout": "all"},
     [{"d": 1, "b": 3, "c": 2, "a": 4}, {"d": 4, "a": 1, "c": 3, "b": "f\ng"}],
     'd,b,c,a{ret}1,3,2,4{ret}4,"f\ng",3,1'),
    ({"temp": "a,b,c,d"}, ["", 0, 1, "foo", 'ba"r', "di,ng", "fa\nba"],
     ',0,1,foo,"ba""r","di,ng","fa\nba"', ",0,1,foo"),  # RFC: only the template's 4 columns
    ({"temp": "a,b,c,d"}, [[0, 1, 2, 3, 4], [4, 3, 2, 1, 0]], "0,1,2,3,4{ret}4,3,2,1,0",
     "0,1,2,3{ret}4,3,2,1"),
    ({"temp": "a,b,c,d", "hdrout": True}, [{"d": 1, "b": 3, "c": 2, "a": 4}],
     "a,b,c,d{ret}4,3,2,1"),
    # Older exports write "" for "none" (found in real flows).
    ({"temp": "a,b,c,d", "hdrout": ""}, [{"d": 1, "b": 3, "c": 2, "a": 4}], "4,3,2,1"),
    ({"hdrout": True}, [{"col1": "H1", "col2": "H2", "col3": "H3", "col4": "H4"},
                        {"col1": "A", "col2": "B"}, {"col1": "A", "col3": "C"},
                        {"col1": "A", "col4": "D\nE"}],
     'col1,col2,col3,col4{ret}H1,H2,H3,H4{ret}A,B,,{ret}A,,C,{ret}A,,,"D\nE"'),
    ({"temp": "a,b,c,d"}, {"d": {"sub": "object"}, "b": "text,with,commas",
                           "c": 'This "is" a banana', "a": {}},
     '{},"text,with,commas","This ""is"" a banana","{""sub"":""object""}"'),
]


@pytest.mark.parametrize("spec", ["rfc", ""])
@pytest.mark.parametrize("case", TO_CSV)
async def test_objects_to_csv_as_node_reds_spec(spec, case):
    config, payload, text = case[:3]
    if spec == "rfc" and len(case) > 3:
        text = case[3]
    ret = "\r\n" if spec == "rfc" else "\n"
    h = await run({"spec": spec, **config}, {"payload": payload})
    assert rows(h) == [text.replace("{ret}", ret) + ret]


async def test_rfc_quotes_header_names_and_tabs_keep_their_own_rules():
    h = await run({"spec": "rfc", "hdrout": "all", "ret": "\\n"},
                  {"payload": [{'a"a': "A1", "b'b": "B1"}, {'a"a': "A2", "b'b": "B2"}]})
    assert rows(h) == ['"a""a",b\'b\nA1,B1\nA2,B2\n']
    h = await run({"spec": "", "hdrout": "all"},
                  {"payload": [{'a"a': "A1", "b'b": "B1"}, {'a"a': "A2", "b'b": "B2"}]})
    assert rows(h) == ['a"a,b\'b\nA1,B1\nA2,B2\n']
    h = await run({"spec": "rfc", "sep": "\t", "ret": "\\n", "hdrout": "all"},
                  {"payload": {"d": 1, "b": "foo", "c": 'ba"r', "a": "di,ng"}})
    assert rows(h) == ['d\tb\tc\ta\n1\tfoo\t"ba""r"\tdi,ng\n']
    assert h.outputs("n1")[0]["columns"] == 'd,b,c,a'


@pytest.mark.parametrize("spec", ["rfc", ""])
async def test_columns_from_the_message_and_headers_once_until_reset(spec):
    row = {"d": 1, "b": 3, "c": 2, "a": 4}
    h = await run({"spec": spec, "hdrout": "once", "ret": "\\r\\n"},
                  {"payload": [row], "columns": "a,,b,a", "parts": {"index": 0}},
                  {"payload": [row], "parts": {"index": 1}},
                  {"payload": [row], "parts": {"index": 2}},
                  {"payload": [row], "columns": "a,,b,a", "reset": True})
    assert rows(h) == ["a,,b,a\r\n4,,3,4\r\n", "4,,3,4\r\n", "4,,3,4\r\n",
                       "a,,b,a\r\n4,,3,4\r\n"]
    # RFC leaves the empty column out of msg.columns, legacy keeps it.
    assert h.outputs("n1")[0]["columns"] == ("a,b,a" if spec == "rfc" else "a,,b,a")
    h = await run({"spec": spec, "hdrout": "once", "ret": "\\r\\n"},
                  {"payload": [row, row, row], "columns": "a,,b,a"})
    assert rows(h) == ["a,,b,a\r\n4,,3,4\r\n4,,3,4\r\n4,,3,4\r\n"]


async def test_no_template_for_objects_warns_once():
    h = await run({"spec": "rfc"}, {"payload": {"x": 1}}, {"payload": {"y": 2}})
    assert rows(h) == ["1\r\n", "2\r\n"]
    assert [w["msg"] for w in h.warnings] == ["No columns template specified for object -> CSV."]


# ------------------------------------------------------------- other input
@pytest.mark.parametrize("spec", ["rfc", ""])
async def test_no_payload_passes_through_and_reset_alone_is_consumed(spec):
    h = await run({"spec": spec, "temp": "a,b,c,d"}, {"topic": {"a": 4}}, {"reset": True})
    assert h.outputs("n1") == [{"topic": {"a": 4}, "_msgid": h.outputs("n1")[0]["_msgid"]}]


async def test_number_or_boolean_is_an_error_in_rfc_mode_and_a_warning_in_legacy():
    h = await run({"spec": "rfc", "temp": "a,b,c,d"}, {"payload": 1, "topic": "t"})
    assert rows(h) == []
    (caught,) = h.outputs("c")
    assert caught["error"]["message"] == "Error: This node only handles CSV strings or js objects."
    assert caught["error"]["source"]["id"] == "n1" and caught["topic"] == "t"
    assert h.status("n1")["fill"] == "red"
    h = await run({"spec": "", "temp": "a,b,c,d"}, {"payload": 1}, {"payload": True})
    assert rows(h) == [] and h.outputs("c") == []
    assert [w["msg"] for w in h.warnings] == [
        "This node only handles CSV strings or js objects."] * 2


async def test_rfc_malformed_header_row_is_an_error_naming_the_problem():
    async with FlowHarness(csv_flow(spec="rfc", hdrin=True)) as h:
        await h.inject("n1", payload='a,b"c\n1,2')
        (caught,) = h.outputs("c")
        assert caught["error"]["message"] == ("UnquotedQuoteError: Quote found in the middle "
                                              "of an unquoted field (header row, character 3)")
        assert h.status("n1")["text"] == "Malformed columns template."
        await h.inject("n1", payload="a,b\n1,2")  # the next good file clears the status
        assert rows(h) == [{"a": 1, "b": 2}] and "text" not in h.status("n1")


async def test_rfc_malformed_column_template_stops_the_node_from_starting():
    with pytest.raises(DeployError, match="Malformed columns template"):
        async with FlowHarness(csv_flow(spec="rfc", temp='"a",  "b" , " c "," d  " ')):
            pass


async def test_bytes_are_read_as_utf8_text_and_oversized_input_is_refused():
    h = await run({"spec": "rfc", "temp": "a,b"}, {"payload": "x,é\n".encode()},
                  {"payload": "x" * (MAX_INPUT_CHARS + 1)})
    assert rows(h) == [{"a": "x", "b": "é"}]
    (caught,) = h.outputs("c")
    assert "longer than the limit" in caught["error"]["message"]


async def test_defaults_follow_the_mode_when_keys_are_absent():
    # A flow from before Node-RED 4: no spec (legacy) and no ret (\n); a new node: RFC, \r\n.
    h = await run({}, {"payload": {"a": 1}})
    assert rows(h) == ["1\n"]
    h = await run({"spec": "rfc"}, {"payload": {"a": 1}})
    assert rows(h) == ["1\r\n"]


def test_rfc_parser_strict_errors_and_cursor():
    with pytest.raises(CsvParseError, match="Data found after closing quote"):
        rfc_parse('"a"b', strict=True)
    with pytest.raises(CsvParseError, match="Missing quote, unclosed cell"):
        rfc_parse('"ab', strict=True)
    head = rfc_parse("a,b\r\n1,2", headers_only=True, as_arrays=True)
    assert head.headers == ["a", "b"] and head.cursor == 5
    # A quoted empty cell is "", a zero-length one null; a trailing one is no cell at all.
    assert rfc_parse('a,"",\n', as_arrays=True, has_header_row=False).data == [
        ["col1", "col2"], ["a", ""]]
    assert rfc_parse("a,,b", as_arrays=True, has_header_row=False).data[1] == ["a", None, "b"]


# ------------------------------------------------------------- Node-RED's examples
# The debug output of Node-RED 4.1.15 for each inject of each example (run unchanged).
EXAMPLE_OUTPUT: dict[str, list[Any]] = {
    "01---Parse-CSV-with-default-column-name-as-message-sequence": [
        {"col1": "Apple", "col2": 100, "col3": "Canada"},
        {"col1": "Orange", "col2": 120, "col3": "USA"},
        {"col1": "Banana", "col2": 80, "col3": "Philippines"}],
    "02---Parse-CSV-with-default-column-name-as-array": [[
        {"col1": "Apple", "col2": 100, "col3": "Canada"},
        {"col1": "Orange", "col2": 120, "col3": "USA"},
        {"col1": "Banana", "col2": 80, "col3": "Philippines"}]],
    "03---Parse-CSV-with-specified-column-name-as-message-sequence": [
        {"kind": "Apple", "price": 100, "origin": "Canada"},
        {"kind": "Orange", "price": 120, "origin": "USA"},
        {"kind": "Banana", "price": 80, "origin": "Philippines"}],
    "04---Parse-CSV-with-column-name-in-first-row-as-message-sequence": [
        {"kind": "Apple", "price": 100, "origin": "Canada"},
        {"kind": "Orange", "price": 120, "origin": "USA"},
        {"kind": "Banana", "price": 80, "origin": "Philippines"}],
    "05---Convert-JavaScript-object-to-CSV": ["Apple,100\n"],
    "06---Convert-JavaScript-object-to-CSV": ["Apple,100\nOrange,120\nBanana,80\n"],
    "07---Convert-array-of-JavaScript-objects-to-CSV-with-column-name-header": [
        "kind,price\nApple,100\nOrange,120\nBanana,80\n"],
    "08---Specify-column-names-in-input-message": [
        "kind,price\nApple,100\nOrange,120\nBanana,80\n"],
    "09---Send-column-name-when-reset-property-set": [
        "kind,price\nApple,100\n", "Orange,120\n", "kind,price\nBanana,80\n"],
    "10---Join-parsed-CSV-message-sequence-using-join-node": [
        "Apple,100\nOrange,120\nBanana,80\n"],
}


@pytest.mark.parametrize("name", sorted(EXAMPLE_OUTPUT))
async def test_node_red_examples_run_unchanged(name):
    (path,) = EXAMPLES.glob(f"parser__csv__{name}.json")
    flow = json.loads(path.read_text())
    debug = next(n["id"] for n in flow if n["type"] == "debug")
    async with FlowHarness(flow) as h:
        for inject in [n for n in flow if n["type"] == "inject"]:  # in file order, as run
            h.node(inject["id"]).trigger()
            await h.settle()
        source = next(n["id"] for n in flow if any(debug in w for w in n.get("wires", [])))
        assert h.payloads(source) == EXAMPLE_OUTPUT[name]
        assert h.errors == []


# ------------------------------------------------------------- against Node-RED
ORACLE = DATA / "csv_oracle.js"
needs_node_red = pytest.mark.skipif(
    shutil.which("node") is None or not (NODE_RED / "nodes").is_dir(),
    reason="needs Node.js and Node-RED 4 in bench/.cache (make -C bench setup)")


def _random_case(r: random.Random) -> dict[str, Any]:
    alphabet = ["a", "b", "1", "0", "7", ".", "-", "+", "e", "x", "F", ",", ";", "\t", " ",
                '"', '"', "\n", "\r", "\r\n", "é"]

    def text(n: int) -> str:
        return "".join(r.choice(alphabet) for _ in range(n))

    def value() -> Any:
        return r.choice([1, 0, 2.5, -3, "s", "a,b", 'q"t', "l\nm", True, None, "", {"k": 1},
                         [1, 2]])

    config = {"spec": r.choice(["rfc", "rfc", ""]), "sep": r.choice([",", ";", "\\t", " "]),
              "temp": r.choice(["", "", "a,b,c", "a,,c", '"p q",r']),
              "hdrin": r.choice([True, ""]), "multi": r.choice(["one", "mult"]),
              "skip": r.choice(["0", "0", "1"]), "strings": r.choice([True, False]),
              "include_empty_strings": r.choice(["", True]),
              "include_null_values": r.choice(["", True]),
              "hdrout": r.choice(["none", "all", "once"]), "ret": r.choice(["\\n", "\\r\\n"])}
    msgs: list[dict[str, Any]] = []
    if r.random() < 0.2:
        n = r.randint(1, 4)
        msgs = [{"_msgid": f"m{i}", "payload": text(r.randint(0, 8)),
                 "parts": {"id": "P", "index": i, "count": n}} for i in range(n)]
    else:
        for i in range(r.randint(1, 3)):
            kind = r.random()
            payload: Any = (text(r.randint(0, 25)) if kind < 0.6 else
                            [{r.choice("abcd"): value() for _ in range(r.randint(0, 4))}
                             for _ in range(r.randint(1, 3))] if kind < 0.8 else
                            [[value() for _ in range(r.randint(0, 4))]
                             for _ in range(r.randint(1, 3))] if kind < 0.9 else
                            [value() for _ in range(r.randint(1, 4))])
            msg = {"_msgid": f"m{i}", "payload": payload}
            if r.random() < 0.15:
                msg["columns"] = r.choice(["a,b", "b,,a", "", "c"])
            if r.random() < 0.1:
                msg["reset"] = True
            msgs.append(msg)
    return {"config": config, "msgs": msgs}


def _comparable(value: Any) -> Any:
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return int(value) if value.is_integer() else value
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_comparable(v) for v in value]
    return value


KEPT = ("payload", "columns", "parts", "complete")


@needs_node_red
async def test_same_results_as_node_reds_own_csv_node():
    r = random.Random(15)
    cases = [_random_case(r) for _ in range(int(os.environ.get("CSV_ORACLE_CASES", "300")))]
    answer = (await asyncio.to_thread(
        subprocess.run, ["node", str(ORACLE), str(NODE_RED)],
        input="\n".join(map(json.dumps, cases)) + "\n", capture_output=True, text=True,
        timeout=120, check=True)).stdout.splitlines()
    assert len(answer) == len(cases)
    for case, line in zip(cases, answer, strict=True):
        events = json.loads(line)
        expected = {"send": _comparable([{k: v for k, v in m.items() if k in KEPT}
                                         for kind, m in events if kind == "send"]),
                    "warn": [m for kind, m in events if kind == "warn"],
                    "errors": sum(kind == "done" for kind, _ in events)}
        h = await run(case["config"], *json.loads(json.dumps(case["msgs"])))
        got = {"send": _comparable([{k: v for k, v in m.items() if k in KEPT}
                                    for m in h.outputs("n1")]),
               "warn": [w["msg"] for w in h.warnings], "errors": len(h.outputs("c"))}
        assert got == expected, json.dumps(case)


# ------------------------------------------------------------- fuzz
CONFIGS = st.fixed_dictionaries({
    "spec": st.sampled_from(["rfc", ""]), "sep": st.sampled_from([",", ";", "\\t", "ab", '"']),
    "temp": st.sampled_from(["", "a,b", '"x,y",z', 'bad"quote']),
    "hdrin": st.booleans(), "multi": st.sampled_from(["one", "mult"]),
    "skip": st.sampled_from(["0", "2", 1]), "strings": st.booleans(),
    "include_empty_strings": st.booleans(), "include_null_values": st.booleans(),
    "hdrout": st.sampled_from(["none", "all", "once"])})
CSV_TEXT = st.text(alphabet=st.sampled_from(list(',;"\r\n\t ab01.-+eE\x00é\ud800')),
                   max_size=300) | st.text(max_size=100)
PAYLOADS = (CSV_TEXT | st.binary(max_size=200)
            | st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5)
                           | st.floats(), lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=3), inner, max_size=4),
                           max_leaves=12))


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(config=CONFIGS, payloads=st.lists(PAYLOADS, min_size=1, max_size=3),
       parts=st.booleans())
async def test_fuzz_any_input_gives_a_result_or_a_named_error(config, payloads, parts):
    if config["spec"] == "rfc" and config["temp"] == 'bad"quote':
        config["temp"] = ""  # a bad RFC template refuses to start (tested above)
    msgs = [{"payload": p, **({"parts": {"id": "f", "index": i, "count": len(payloads)}}
                              if parts else {})} for i, p in enumerate(payloads)]
    h = await run(config, *msgs)
    for caught in h.outputs("c"):
        assert caught["error"]["message"] and caught["error"]["source"]["id"] == "n1"
    for out in h.outputs("n1"):
        assert isinstance(out.get("payload"), str | dict | list) or out.get("complete")


def test_large_input_is_parsed_in_linear_time():
    # 2 MiB of quoted and unquoted cells and a 1 MiB header: a quadratic step would take
    # minutes here; the pytest timeout bounds the test.
    line = '"q,1",22,,abc,"x""y"\r\n'
    data = rfc_parse(line * (2 * 1024 * 1024 // len(line)), has_header_row=False,
                     parse_numbers=True)
    assert data.data[0] == {"col1": "q,1", "col2": 22, "col4": "abc", "col5": 'x"y'}
    header = ",".join(f'"h{i}"' for i in range(150_000))
    assert len(rfc_parse(header + "\n1", headers_only=True, as_arrays=True).headers) == 150_000
