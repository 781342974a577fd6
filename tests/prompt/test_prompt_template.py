import pytest

from lazyllm.prompt import ChatPrompter
from lazyllm.prompt._template import Template, to_text


def system_of(prompter, values):
    """The filled instruction (without the two newlines LazyLLM's layout puts after it)."""
    content = prompter.generate_prompt(values, format='openai')['messages'][0]['content']
    assert content.endswith('\n\n')
    return content[:-2]


def test_json_examples_in_a_prompt_are_left_alone():
    p = ChatPrompter('Answer as {"answer": "...", "score": 1} about {topic}.')
    assert p.placeholders == ('topic',)
    assert system_of(p, {'topic': 'x'}) == 'Answer as {"answer": "...", "score": 1} about x.'


def test_raw_nested_json_keeps_its_closing_braces():
    p = ChatPrompter('Reply like {"a": {"b": [1, {"c": 2}]}}')
    assert system_of(p, {'input': 'q'}) == 'Reply like {"a": {"b": [1, {"c": 2}]}}'


def test_double_braces_escape_like_str_format():
    p = ChatPrompter('Write {{name}} literally; fill {name}; {{"a": {"b": 1}}}')
    assert p.placeholders == ('name',)
    assert system_of(p, {'name': 'Bob'}) == 'Write {name} literally; fill Bob; {"a": {"b": 1}}'
    assert system_of(ChatPrompter('{{{x}}}'), {'x': 1}) == '{1}'


@pytest.mark.parametrize('text, names', [
    ('{a} {b} {a}', ('a', 'b')),
    ('{ a } {a-b} {1a} {} {a.b}', ()),
    ('{_x1} {问题}', ('_x1', '问题')),
])
def test_only_identifiers_are_placeholders(text, names):
    assert Template(text, 'the instruction').names == names


def test_template_fill_leaves_non_placeholders_verbatim():
    t = Template('{ a } {a} {}', 'x')
    assert t.fill({'a': 'A'}) == '{ a } A {}'


@pytest.mark.parametrize('value, text', [
    ('s', 's'), (3, '3'), ({'k': 'ü'}, '{"k": "ü"}'), ([1, 'a'], '[1, "a"]'), (None, 'None')])
def test_to_text(value, text):
    assert to_text(value) == text
