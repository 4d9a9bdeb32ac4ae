"""conf.py read statically, over fixtures in the shapes real projects use (DOCTOOL_PATTERNS)."""

from __future__ import annotations

import textwrap

import pytest

from buildcensus.collect import read_conf_source

# (id, source, extensions, theme, words that must appear in the notes)
CASES = [
    (
        "plain-list-with-comments",
        """
        extensions = [
            'sphinx.ext.autodoc',   # API docs
            # 'sphinx.ext.disabled',
            "sphinx.ext.intersphinx",
        ]
        html_theme = "sphinx_rtd_theme"
        """,
        ["sphinx.ext.autodoc", "sphinx.ext.intersphinx"],
        "sphinx_rtd_theme",
        [],
    ),
    (
        "built-up-last-assignment-wins",
        """
        extensions = []
        extensions = ['a.one']
        extensions += ['a.two']
        extensions.append('a.three')
        extensions.extend(('a.four', 'a.five'))
        extensions.insert(0, 'a.zero')
        extensions = extensions + ['a.six']
        extensions.remove('a.two')
        """,
        ["a.zero", "a.one", "a.three", "a.four", "a.five", "a.six"],
        "alabaster",
        [],
    ),
    (
        "tuple-and-concatenation",
        """
        BASE = ('sphinx.ext.autodoc', 'sphinx.ext.todo')
        EXTRA = ['myst_parser']
        extensions = list(BASE) + EXTRA + [*EXTRA, 'sphinx_design']
        """,
        ["sphinx.ext.autodoc", "sphinx.ext.todo", "myst_parser", "sphinx_design"],
        "alabaster",
        [],
    ),
    (
        "try-import-and-find-spec",
        """
        import importlib.util, os
        extensions = ['sphinx.ext.autodoc']
        try:
            import sphinxcontrib.spelling
        except ImportError:
            pass
        else:
            extensions.append('sphinxcontrib.spelling')
        if importlib.util.find_spec('sphinx_copybutton'):
            extensions.append('sphinx_copybutton')
        if os.environ.get('READTHEDOCS'):
            extensions.append('sphinx_search.extension')
        if tags.has('pdf'):
            extensions += ['rst2pdf.pdfbuilder']
        """,
        [
            "sphinx.ext.autodoc",
            "sphinxcontrib.spelling",
            "sphinx_copybutton",
            "sphinx_search.extension",
            "rst2pdf.pdfbuilder",
        ],
        "alabaster",
        ["conditions decided at build time", "sphinx_copybutton"],
    ),
    (
        "constant-conditions",
        """
        extensions = []
        if True:
            extensions.append('yes.one')
        if 'a' == 'b':
            extensions.append('never')
        else:
            extensions.append('yes.two')
        if 0:
            extensions.append('never.again')
        DEBUG = False
        if not DEBUG and 1 < 2:
            extensions.append('yes.three')
        """,
        ["yes.one", "yes.two", "yes.three"],
        "alabaster",
        [],
    ),
    (
        "comprehension-and-string-concat",
        """
        extensions = ['sphinx.ext.' + e for e in ('autodoc', 'napoleon', 'viewcode')]
        extensions += [f"sphinxcontrib.{n}" for n in ["bibtex", "mermaid"] if n]
        extensions += "numpydoc sphinx_gallery.gen_gallery".split()
        """,
        [
            "sphinx.ext.autodoc",
            "sphinx.ext.napoleon",
            "sphinx.ext.viewcode",
            "sphinxcontrib.bibtex",
            "sphinxcontrib.mermaid",
            "numpydoc",
            "sphinx_gallery.gen_gallery",
        ],
        "alabaster",
        [],
    ),
    (
        "loop-over-name-module-tuples",
        """
        extensions = ['sphinx.ext.autodoc']
        PAIRS = [('sphinx_tabs.tabs', 'sphinx_tabs'), ('notfound.extension', 'notfound')]
        for name, module in PAIRS:
            try:
                __import__(module)
            except ImportError:
                continue
            extensions.append(name)
        for ext in ['sphinx_design']:
            try:
                __import__(ext)
                break
            except ImportError:
                pass
        else:
            extensions.append('sphinx.ext.todo')
        """,
        ["sphinx.ext.autodoc", "sphinx_tabs.tabs", "notfound.extension", "sphinx.ext.todo"],
        "alabaster",
        [],
    ),
    (
        "star-import-local-additions",
        """
        from base_conf import *
        extensions += ['local.extension']
        """,
        ["local.extension"],
        None,
        ["from base_conf import *", "only the additions made here"],
    ),
    (
        "globals-update-and-computed",
        """
        import tomllib
        with open('settings.toml', 'rb') as f:
            cfg = tomllib.load(f)
        extensions = cfg['extensions']
        globals().update(build_config())
        """,
        [],
        None,
        ["extensions computed at run time", "globals().update(build_config())"],
    ),
    (
        "configure-globals-and-exec",
        """
        extensions = ['sphinx.ext.autodoc']
        configure(globals())
        exec(open('../shared_conf.py').read())
        html_theme = 'furo'
        """,
        ["sphinx.ext.autodoc"],
        "furo",
        ["configure(globals())", "exec("],
    ),
    (
        "theme-set-when-import-succeeds",
        """
        import os
        on_rtd = os.environ.get('READTHEDOCS', None) == 'True'
        if not on_rtd:
            import sphinx_rtd_theme
            html_theme = 'sphinx_rtd_theme'
            html_theme_path = [sphinx_rtd_theme.get_html_theme_path()]
        """,
        [],
        "sphinx_rtd_theme",
        [],
    ),
    (
        "theme-try-import-with-fallback",
        """
        try:
            import pydata_sphinx_theme
            html_theme = 'pydata_sphinx_theme'
        except ImportError:
            html_theme = 'default'
        """,
        [],
        "pydata_sphinx_theme",
        ["pydata_sphinx_theme"],
    ),
    (
        "theme-via-variable-and-env-default",
        """
        import os
        THEME = 'sphinx_book_theme'
        html_theme = THEME
        html_theme = os.environ.get('DOCS_THEME', html_theme)
        """,
        [],
        "sphinx_book_theme",
        [],
    ),
    (
        "theme-via-module-name",
        """
        import sphinx_rtd_theme
        html_theme = sphinx_rtd_theme.__name__
        """,
        [],
        "sphinx_rtd_theme",
        [],
    ),
    (
        "traps-local-names",
        """
        import sys, os
        sys.path.insert(0, os.path.abspath('_ext'))
        import extensions as local_ext_pkg
        extensions = ['autodoc', 'extensions.github', 'local_ext_pkg']
        """,
        ["autodoc", "extensions.github", "local_ext_pkg"],  # as written: no guessing
        "alabaster",
        [],
    ),
    (
        "setup-extension-in-setup",
        """
        extensions = ['sphinx.ext.autodoc']
        def setup(app):
            app.setup_extension('sphinx.ext.mathjax')
        """,
        ["sphinx.ext.autodoc", "sphinx.ext.mathjax"],
        "alabaster",
        [],
    ),
    (
        "python2-file",
        """
        # -*- coding: utf-8 -*-
        import os
        print "building docs"
        extensions = ['sphinx.ext.autodoc']
        try:
            import foo
        except ImportError, e:
            pass
        html_theme = 'nature'
        """,
        ["sphinx.ext.autodoc"],
        "nature",
        ["not valid Python 3"],
    ),
]


@pytest.mark.parametrize(
    ("source", "extensions", "theme", "notes"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_conf_shapes(source, extensions, theme, notes):
    got = read_conf_source(textwrap.dedent(source).encode(), "conf.py")
    assert got.extensions == extensions
    assert got.theme == theme
    joined = "\n".join(got.notes)
    for word in notes:
        assert word in joined, joined


def test_never_executes(tmp_path):
    marker = tmp_path / "ran"
    source = f"""
import os
os.system("touch {marker}")
open({str(marker)!r}, "w").write("x")
raise SystemExit(3)
extensions = ["after.exit"]
"""
    got = read_conf_source(source.encode())
    assert not marker.exists()
    assert got.extensions == ["after.exit"]  # statically visible, even after a raise


def test_pathological_inputs_are_bounded():
    deep = "x = " + "[" * 5000 + "]" * 5000 + "\nextensions = ['a']\n"
    got = read_conf_source(deep.encode())
    assert got.extensions in (["a"], [])  # parsed or pattern-matched, never a crash
    # an unknown iterable: the body may run, so what it adds is reported (once, not 10**9 times)
    loop = "extensions = []\nfor i in range(10**9):\n    extensions.append('x')\n"
    assert read_conf_source(loop.encode()).extensions == ["x"]
    binary = read_conf_source(b"\x00\xff\xfe garbage")
    assert binary.extensions == [] and binary.notes
