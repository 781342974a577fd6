import subprocess
import sys

import pytest

from lazyllm.errors import FormatError
from lazyllm.formatter import YamlFormatter


def test_fenced_yaml_block_is_parsed_and_selected():
    text = 'Sure!\n```yaml\nname: Ada\nskills:\n  - math\n  - poetry\n```\nAnything else?'
    assert YamlFormatter()(text) == {'name': 'Ada', 'skills': ['math', 'poetry']}
    assert YamlFormatter('[skills][1]')(text) == 'poetry'
    assert YamlFormatter('{name}')(text) == {'name': 'Ada'}
    assert YamlFormatter('{:}[0]')('a: [1, 2]\nb: [3]') == {'a': 1, 'b': 3}


def test_bare_fence_whole_text_and_reasoning():
    assert YamlFormatter('[1]')('```\n- a\n- b\n```') == 'b'
    assert YamlFormatter()('a: 1\nb: [2, 3]') == {'a': 1, 'b': [2, 3]}
    assert YamlFormatter()({'x': 1}) == {'x': 1}
    assert YamlFormatter('[a]')('<think>a: 0?</think>\na: 1') == 1


def test_unparsable_yaml_is_a_format_error():
    with pytest.raises(FormatError, match=r"not valid YAML .*'a: \[1,\\n'.*```yaml block") as e:
        YamlFormatter()('a: [1,\n')
    assert e.value.__cause__ is not None


def test_selection_on_the_wrong_shape():
    with pytest.raises(FormatError, match="needs a dict, but the data there is a str"):
        YamlFormatter('{a}')('just words')


def test_yaml_and_json_repair_are_imported_lazily():
    code = ('import sys, lazyllm.formatter, lazyllm.prompt; '
            'print("yaml" in sys.modules, "json_repair" in sys.modules)')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == 'False False'
