"""RFC 9264 linksets as a GS1-Conformant resolver (standard 1.2) serves them, and the choice
of one link for a request.

    {"linkset": [{"anchor": "https://ocop.vn/01/08931234567897",
                  "itemDescription": "Mắm cáy Hồng Tiến",
                  "https://gs1.org/voc/pip": [{"href": ..., "title": ..., "type": "text/html",
                                               "hreflang": ["vi"]}],
                  "https://gs1.org/voc/defaultLink": [{"href": ..., "title": ...}]}, ...]}

What GS1 checks (gs1/GS1DL-resolver-testsuite, gs1/linkset's gs1-linkset-schema.json):
- one context object per level, anchored at the request URI on the resolver's own host
  and at each level above it (the suite walks the anchors up, dropping two segments at a
  time); `anchor` and `itemDescription` are required, no other plain member is allowed;
- each link type is a full URI whose value is an ARRAY of targets, `href` and `title`
  required; the suite accepts the gs1.org, www.gs1.org and ref.gs1.org vocabulary
  namespaces alike, we write https://gs1.org/voc/ (the gs1 prefix of GS1's linkset context);
- exactly one default link for a request, at its own level or the nearest above, carrying
  href and title and nothing else;
- a link type at a finer level hides the same type above it.

The catalogue of links (which targets each level has) is the caller's data, keyed by the
level's canonical path ("/01/<gtin>", "/01/<gtin>/10/<lot>", ...).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Protocol, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializationInfo,
    model_serializer,
    model_validator,
)

from contract.verdict import Lang

GS1_VOC = "https://gs1.org/voc/"
_VOC_ALIASES = ("https://gs1.org/voc/", "https://www.gs1.org/voc/", "https://ref.gs1.org/voc/")

LINKSET_MEDIA_TYPE = "application/linkset+json"
LINKSET_CONTEXT = "https://ref.gs1.org/standards/resolver/linkset-context"
JSONLD_CONTEXT_REL = "http://www.w3.org/ns/json-ld#context"
LINKSET_LINK_TYPES = ("linkset", "all")
"""`?linkType=` values that ask for the linkset itself ("all" is the pre-1.0 spelling)."""


class LinkType(StrEnum):
    """The GS1 Web Vocabulary link types OCOP serves, by their full URI."""

    PIP = GS1_VOC + "pip"
    """The product information page: our consumer page."""
    CERTIFICATION_INFO = GS1_VOC + "certificationInfo"
    """The OCOP certificate and the product's current stars."""
    TRACEABILITY = GS1_VOC + "traceability"
    EPCIS = GS1_VOC + "epcis"
    VERIFICATION_SERVICE = GS1_VOC + "verificationService"
    """A service that checks one instance: the inspectors' check of a unit."""
    RECALL_STATUS = GS1_VOC + "recallStatus"
    LEAVE_REVIEW = GS1_VOC + "leaveReview"
    """Where a consumer reports a problem."""
    DEFAULT_LINK = GS1_VOC + "defaultLink"

    @property
    def curie(self) -> str:
        return "gs1:" + self.value.removeprefix(GS1_VOC)

    @classmethod
    def parse(cls, text: str) -> LinkType | None:
        """A link type as a request names it (`gs1:pip`, or its URI in any GS1 namespace)."""
        name = text.removeprefix("gs1:") if text.startswith("gs1:") else None
        for alias in _VOC_ALIASES:
            if text.startswith(alias):
                name = text.removeprefix(alias)
        try:
            return cls(GS1_VOC + name) if name else None
        except ValueError:
            return None


class LinkTarget(BaseModel):
    """One target of a link: RFC 9264's target attributes as GS1's schema allows them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    href: Annotated[str, Field(pattern=r"^https?://[a-zA-Z0-9./]\S*$")]
    title: Annotated[str, Field(min_length=1, max_length=300)]
    type: Annotated[str, Field(pattern=r"^\w+/[-+.\w]+$")] | None = None
    hreflang: tuple[Annotated[str, Field(pattern=r"^[a-z]{2}(-[A-Z]{2})?$")], ...] | None = None


class Levelled(Protocol):
    """What a linkset and a link choice need of an identifier: its path, and the paths of
    every level from its own up to its primary key (a `DigitalLink`; the verify API's own
    `/p/` keys for products without a GTIN have the same shape)."""

    @property
    def path(self) -> str: ...

    def levels(self) -> Sequence[Levelled]: ...


LevelLinks = Mapping[LinkType, Sequence[LinkTarget]]
Catalogue = Mapping[str, LevelLinks]
"""Each level's links, keyed by the level's canonical path (`DigitalLink.path`)."""


class LinkContext(BaseModel):
    """One context object: a level's anchor, its description and its links by type."""

    model_config = ConfigDict(frozen=True)

    anchor: str
    item_description: str
    links: Mapping[LinkType, tuple[LinkTarget, ...]]

    @model_validator(mode="after")
    def _one_plain_default(self) -> Self:
        defaults = self.links.get(LinkType.DEFAULT_LINK, ())
        if len(defaults) > 1 or any(t.type or t.hreflang for t in defaults):
            raise ValueError("a level has at most one default link, with href and title only")
        return self

    @model_serializer
    def _flat(self, info: SerializationInfo) -> dict[str, Any]:
        """RFC 9264 puts the link types beside `anchor`, as members of the same object."""
        out: dict[str, Any] = {"anchor": self.anchor, "itemDescription": self.item_description}
        for link_type, targets in self.links.items():
            out[link_type.value] = [
                t.model_dump(mode=info.mode, exclude_none=True) for t in targets
            ]
        return out


class Linkset(BaseModel):
    """The body of an `application/linkset+json` answer."""

    model_config = ConfigDict(frozen=True)

    linkset: tuple[LinkContext, ...]


def build_linkset(
    link: Levelled, catalogue: Catalogue, *, root: str, item_description: str
) -> Linkset:
    """The linkset for a request URI: one context object for each level from the request's
    own up to the GTIN (a level without links is still listed, with none), anchored at
    `root` (the resolver's scheme and host). Raises ValueError if a level has more than one
    default link or a default link with attributes besides href and title."""
    contexts = []
    for level in link.levels():
        links = catalogue.get(level.path, {})
        contexts.append(
            LinkContext(
                anchor=f"{root}{level.path}",
                item_description=item_description,
                links={
                    link_type: tuple(targets) for link_type, targets in links.items() if targets
                },
            )
        )
    return Linkset(linkset=tuple(contexts))


class LinkProblem(StrEnum):
    """Why no link answers a request: a resolver's 404."""

    UNKNOWN_LINK_TYPE = "unknown_link_type"
    NO_LINK_OF_TYPE = "no_link_of_type"
    NO_DEFAULT_LINK = "no_default_link"

    def sentence(self, lang: Lang) -> str:
        vi, en = _SENTENCES[self]
        return vi if lang is Lang.VI else en


_SENTENCES = {
    LinkProblem.UNKNOWN_LINK_TYPE: (
        "Loại liên kết được yêu cầu không có trong bộ từ vựng GS1 mà hệ thống hỗ trợ.",
        "The requested link type is not a GS1 link type this resolver knows.",
    ),
    LinkProblem.NO_LINK_OF_TYPE: (
        "Sản phẩm này không có liên kết thuộc loại được yêu cầu.",
        "This item has no link of the requested type.",
    ),
    LinkProblem.NO_DEFAULT_LINK: (
        "Sản phẩm này chưa có liên kết mặc định.",
        "This item has no default link.",
    ),
}


@dataclass(frozen=True, slots=True)
class LinkChoice:
    """The link to redirect to, and the level it was found at."""

    level: Levelled
    link_type: LinkType
    target: LinkTarget


@dataclass(frozen=True, slots=True)
class LinkRefusal:
    problem: LinkProblem
    detail: str


def default_link(link: Levelled, catalogue: Catalogue) -> LinkChoice | LinkRefusal:
    """The default link at the request's level or the nearest above (unit, lot, GTIN)."""
    return _find(link, catalogue, LinkType.DEFAULT_LINK, None, None)


def choose_link(
    link: Levelled,
    catalogue: Catalogue,
    *,
    link_type: str | None = None,
    accept: str | None = None,
    accept_language: str | None = None,
) -> LinkChoice | LinkRefusal:
    """The link a request asks for: of its `linkType` if it names one (at the finest level
    that has that type), else the default link; among several targets, the best match for
    Accept and Accept-Language, the catalogue's first on a tie or if none matches (a
    resolver redirects to something rather than answer 406). Call `wants_linkset` first:
    a request for the linkset is not a request for a link."""
    if link_type is None:
        return default_link(link, catalogue)
    wanted = LinkType.parse(link_type)
    if wanted is None:
        return LinkRefusal(LinkProblem.UNKNOWN_LINK_TYPE, f"linkType {link_type!r}")
    return _find(link, catalogue, wanted, accept, accept_language)


def wants_linkset(link_type: str | None, accept: str | None) -> bool:
    """Whether a request asks for the list of links rather than a redirect."""
    if link_type is not None:
        return link_type in LINKSET_LINK_TYPES
    return any(media == LINKSET_MEDIA_TYPE and q > 0 for media, q in _ranges(accept))


def link_header(href: str, rel: str, media_type: str | None = None) -> str:
    """One RFC 8288 Link header value."""
    value = f'<{href}>; rel="{rel}"'
    return f'{value}; type="{media_type}"' if media_type else value


def linkset_link_header(link: Levelled, root: str) -> str:
    """The Link header a redirect carries, pointing at the request's linkset."""
    href = f"{root}{link.path}?linkType=linkset"
    return link_header(href, "linkset", LINKSET_MEDIA_TYPE)


LINKSET_CONTEXT_LINK_HEADER = link_header(
    LINKSET_CONTEXT, JSONLD_CONTEXT_REL, "application/ld+json"
)
"""The Link header a linkset answer carries: its JSON-LD context, as GS1's suite checks."""


def forward_query(href: str, query: str) -> str:
    """A redirect's location: the target with the request's whole query passed on (GS1's
    resolver standard: our signature pairs and a `utm_source` travel along)."""
    if not query:
        return href
    return f"{href}{'&' if '?' in href else '?'}{query}"


def _find(
    link: Levelled,
    catalogue: Catalogue,
    link_type: LinkType,
    accept: str | None,
    accept_language: str | None,
) -> LinkChoice | LinkRefusal:
    for level in link.levels():
        targets = catalogue.get(level.path, {}).get(link_type, ())
        if targets:
            best = _best(targets, _ranges(accept), _ranges(accept_language))
            return LinkChoice(level, link_type, best)
    if link_type is LinkType.DEFAULT_LINK:
        return LinkRefusal(LinkProblem.NO_DEFAULT_LINK, link.path)
    return LinkRefusal(LinkProblem.NO_LINK_OF_TYPE, f"{link_type.curie} for {link.path}")


def _best(
    targets: Sequence[LinkTarget],
    media: list[tuple[str, float]],
    languages: list[tuple[str, float]],
) -> LinkTarget:
    def score(target: LinkTarget) -> float:
        return _media_score(target, media) * _language_score(target, languages)

    top = max(targets, key=score)  # max keeps the first of equals: the catalogue's order
    return top if score(top) > 0 else targets[0]


def _media_score(target: LinkTarget, ranges: list[tuple[str, float]]) -> float:
    if not ranges:
        return 1.0
    kind = target.type or ""
    matches = [
        (media.count("*"), q)
        for media, q in ranges
        if media in (kind, "*/*") or (media.endswith("/*") and kind.startswith(media[:-1]))
    ]
    return min(matches)[1] if matches else 0.0  # the most specific range decides


def _language_score(target: LinkTarget, ranges: list[tuple[str, float]]) -> float:
    if not ranges:
        return 1.0
    if not target.hreflang:
        return 0.001  # language-neutral: acceptable to anyone, after a language match
    scores = [
        q
        for tag in target.hreflang
        for lang, q in ranges
        if lang == "*" or tag.lower() == lang or tag.lower().startswith(lang + "-")
    ]
    return max(scores, default=0.0)


def _ranges(header: str | None) -> list[tuple[str, float]]:
    """An Accept or Accept-Language header as (lower-case range, q) pairs."""
    out = []
    for item in (header or "").split(","):
        value, *params = (part.strip() for part in item.split(";"))
        q = 1.0
        for param in params:
            name, _, number = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = min(max(float(number), 0.0), 1.0)
                except ValueError:
                    q = 0.0
        if value:
            out.append((value.lower(), q))
    return out
