"""What the pictogram encoder learns: which icon names, from which sets, under which licences.

Icon names become sentences for the text channel's sentence model: ``alert-triangle-outline``
-> ``"alert triangle"`` (style words and sizes dropped). Only icons whose name holds one of
:data:`KEYWORDS` are used: things that name a screen's state or a common UI control
(alerts, questions, locks, progress, files, mail, search, settings, users, carts...), a
focused vocabulary that fits a training run of half an hour on two CPU cores.

    >>> clean_name("alert-triangle-outline")
    'alert triangle'
    >>> clean_name("dialog-warning-symbolic")
    'dialog warning'
    >>> is_wanted("alert triangle"), is_wanted("arrow up right")
    (True, False)
"""

from __future__ import annotations

import re

#: licences whose icons may train the shipped weights (SPDX ids; CC-BY needs attribution,
#: given in the manifest that ships beside the weights)
PERMISSIVE = frozenset(
    {"MIT", "Apache-2.0", "ISC", "CC0-1.0", "CC-BY-4.0", "CC-BY-3.0", "Unlicense", "BSD-3-Clause", "BSD-2-Clause"}
)

#: words of an icon name that say how it is drawn, not what it means
STYLE_WORDS = frozenset(
    "outline outlined filled fill solid line lines linear duotone duo twotone tone rounded round sharp bold light "
    "thin regular broken bulk alt o sm lg xs xl small large symbolic stroke stroked glyph flat color colored colour "
    "variant mini micro box square svg png ltr rtl".split()
)

#: name words kept for training (a screen's state, or a control that names a page)
KEYWORDS = frozenset(
    """
    alert warning warn error danger exclamation caution important attention critical emergency
    question help unknown faq info information about hint
    lock locked unlock unlocked key password padlock shield security secure privacy auth authentication
    loader loading spinner progress hourglass sync refresh reload wait waiting working busy pending timer
    folder directory file files document documents doc page archive
    mail email envelope inbox message messages send outbox
    search magnifier magnify find zoom
    settings setting gear cog cogs preferences options configure config sliders tune
    user users person people account profile avatar contact login logout signin signout log sign
    cart shopping basket bag store shop checkout
    home house dashboard chart graph analytics table grid calendar
    trash delete bin remove erase close cancel check checkmark ok success done tick approve accept confirm
    cross ban block forbidden prohibited stop deny denied failed fail failure invalid
    print printer download upload save floppy disk cloud bell notification notifications
    edit pencil copy paste undo redo camera image photo picture video music phone chat comment
    star heart bookmark link share filter sort list menu hamburger eye visibility hidden hide show
    power exit quit wifi network bug terminal code database server computer desktop laptop monitor
    invoice receipt bill money credit card wallet payment dollar tag
    """.split()
)

#: words of the states dialogs show by their icon: always inside a set's quota
CORE = frozenset(
    "alert warning error danger exclamation caution important question help info information lock password "
    "key loader loading spinner progress hourglass process working dialog".split()
)

_SPLIT = re.compile(r"[-_\s]+")
_DIGITS = re.compile(r"^\d+[a-z]?$|^\d+x\d*$")


def clean_name(name: str) -> str:
    """Sentence for an icon name: split on ``-``/``_``, drop style words and sizes."""
    words = [w for w in _SPLIT.split(name.lower()) if w and w not in STYLE_WORDS and not _DIGITS.match(w)]
    return " ".join(words)


def is_wanted(sentence: str) -> bool:
    """The cleaned name holds a keyword."""
    return any(w in KEYWORDS for w in sentence.split())


def is_core(sentence: str) -> bool:
    """The cleaned name holds a word of a dialog state (see :data:`CORE`)."""
    return any(w in CORE for w in sentence.split())


#: concepts the held-out icon metrics are reported for (a name belongs to a concept when it
#: holds one of its words); the dialog states first
CONCEPTS: dict[str, frozenset[str]] = {
    k: frozenset(v.split())
    for k, v in {
        "warning": "warning alert exclamation caution danger attention important",
        "error": "error failed failure critical forbidden prohibited ban stop deny denied",
        "question": "question help unknown faq",
        "information": "info information about",
        "lock": "lock locked padlock password key",
        "progress": "loader loading spinner progress hourglass wait working busy pending",
        "folder": "folder directory",
        "file": "file document doc",
        "mail": "mail email envelope inbox",
        "search": "search magnifier magnify find",
        "settings": "settings setting gear cog cogs preferences configure",
        "user": "user users person people account profile avatar",
        "cart": "cart shopping basket checkout",
    }.items()
}


def concept_of(sentences: list[str] | tuple[str, ...]) -> str | None:
    """The one concept the names belong to, or None (none or several).

    >>> concept_of(["alert triangle"]), concept_of(["lock user"])
    ('warning', None)
    """
    words = {w for s in sentences for w in s.split()}
    hits = [k for k, v in CONCEPTS.items() if words & v]
    return hits[0] if len(hits) == 1 else None
