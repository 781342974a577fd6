"""``lazyllm completion``: the scripts are generated from the argparse tree; the bash one is
loaded into a real bash, which is asked for completions the way readline asks (COMP_WORDS,
COMP_CWORD, then the registered function), and checked against the tree itself."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

import lazyllm
from lazyllm.cli import COMMANDS, build_parser
from lazyllm.cli._tree import nodes

BASH = shutil.which('bash')


def script(shell: str) -> str:
    out = subprocess.run([sys.executable, '-m', 'lazyllm', 'completion', shell],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stderr == '', out.stderr
    return out.stdout


@pytest.fixture(scope='module')
def bash_complete(tmp_path_factory):
    if not BASH:
        pytest.skip('bash is not installed')
    path = tmp_path_factory.mktemp('completion') / 'lazyllm.bash'
    path.write_text(script('bash'))

    def complete(*words: str) -> list[str]:
        """What bash offers for the command line ``lazyllm WORDS`` (the last word is the
        one being completed)."""
        line = ' '.join(f"'{w}'" for w in ('lazyllm',) + words)
        probe = (f'source "{path}" || exit 3\n'
                 'complete -p lazyllm >/dev/null || exit 4\n'
                 f'COMP_WORDS=({line}); COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))\n'
                 'COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}\n'
                 '_lazyllm lazyllm "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"\n'
                 'printf "%s\\n" "${COMPREPLY[@]}"\n')
        out = subprocess.run([BASH, '--norc', '--noprofile', '-c', probe], capture_output=True,
                             text=True, timeout=30, env={**os.environ, 'LC_ALL': 'C'})
        assert out.returncode == 0 and out.stderr == '', out.stderr
        return [w for w in out.stdout.splitlines() if w]
    return complete


def test_commands_flags_and_choices(bash_complete):
    assert bash_complete('') == list(COMMANDS)
    assert bash_complete('de') == ['deploy']
    engines = ['auto', *lazyllm.deploy.engines.names()]     # plugins' engines too
    assert bash_complete('deploy', 'm', '--engine', '') == engines
    assert {'transformers', 'vllm', 'embedding', 'rerank'} <= set(engines)
    assert bash_complete('deploy', 'm', '--engine', 'vl') == ['vllm', 'vlm']
    assert bash_complete('deploy', '--port', '8000', 'm', '--det') == ['--detach']
    assert bash_complete('models', '') == ['pull', 'convert']
    assert bash_complete('models', '--type', 'e') == ['embed']
    assert bash_complete('models', 'pull', '--source', '') == ['huggingface', 'modelscope']
    assert bash_complete('config', '') == ['show', 'path']
    assert bash_complete('config', 'show', '--') == ['--help', '--json']
    assert bash_complete('completion', '') == ['bash', 'zsh', 'fish']
    # a flag's value is not taken for a command: `--name ps` stays on deploy
    assert '--detach' in bash_complete('deploy', '--name', 'ps', '--')
    assert bash_complete('deploy', '--name', '') == []   # a free value: the default (files)


def test_every_flag_of_every_command_completes(bash_complete):
    for node in nodes(build_parser()):
        flags = [f for o in node.options for f in o.flags]
        assert sorted(bash_complete(*node.path, '-')) == sorted(flags), node.path


def test_zsh_completes_through_bashcompinit():
    text = script('zsh')
    assert 'bashcompinit' in text and script('bash') in text
    zsh = shutil.which('zsh') or pytest.skip('zsh is not installed (apt-get install zsh)')

    def complete(*words: str) -> list[str]:
        """What zsh offers for ``lazyllm WORDS``: the function runs the way bashcompinit
        runs it (its compgen -F, in sh emulation, with the COMP_* variables its
        _bash_complete sets); zsh itself then keeps the words that start with the last one,
        and so does this."""
        line = ' '.join(f"'{w}'" for w in ('lazyllm',) + words)
        probe = ('\n(( $+functions[_lazyllm] )) || exit 4\n'
                 f'words=({line}); CURRENT=$#words\n'
                 'COMP_WORDS=("${words[@]}"); COMP_CWORD=$(( CURRENT - 1 ))\n'
                 f"compgen -F _lazyllm -- '{words[-1]}'\n")
        out = subprocess.run([zsh, '-f', '-c', text + probe], capture_output=True, text=True,
                             timeout=30, env={**os.environ, 'LC_ALL': 'C'})
        assert out.returncode == 0 and out.stderr == '', out.stderr
        return [w for w in out.stdout.splitlines() if w.startswith(words[-1])]

    assert complete('de') == ['deploy']
    assert complete('deploy', 'm', '--engine', 'vl') == ['vllm', 'vlm']
    assert complete('deploy', 'm', '--engine', '') == ['auto', *lazyllm.deploy.engines.names()]
    assert complete('deploy', '--port', '8000', 'm', '--det') == ['--detach']
    assert complete('config', 'show', '--') == ['--help', '--json']


def test_fish_script_covers_the_tree():
    text = script('fish')
    lines = text.splitlines()
    for node in nodes(build_parser()):
        for name in node.subcommands:
            assert any(f' -a {name} -d ' in line for line in lines), name
        for option in node.options:
            longs = [f'-l {f[2:]}' for f in option.flags if f.startswith('--')]
            assert any(all(x in line for x in longs) for line in lines), option.flags
    engines = ' '.join(['auto', *lazyllm.deploy.engines.names()])
    assert any(f"-l engine -x -a '{engines}'" in line for line in lines)
    fish = shutil.which('fish') or pytest.skip('fish is not installed (apt-get install fish)')
    out = subprocess.run([fish, '--no-config', '-c', text + "\ncomplete -C'lazyllm dep'"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and out.stdout.startswith('deploy'), out.stderr


def test_unknown_shell_is_usage():
    out = subprocess.run([sys.executable, '-m', 'lazyllm', 'completion', 'tcsh'],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "invalid choice: 'tcsh'" in out.stderr
    assert out.stderr.startswith('usage: lazyllm completion ')
