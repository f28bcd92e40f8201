"""The OCOP office's dashboard: the province at a glance (backoffice.dashboard's figures) as
a page with charts and tables, as JSON and as CSV. For the office's staff and supervisors.

| route | what |
| --- | --- |
| `GET /office/dashboard` | the page; JSON with `Accept: application/json` or `?format=json` |
| `GET /office/dashboard.csv` | the same figures, one table (UTF-8 with a BOM, for Excel) |
| `GET /office/dashboard/charts.css` | the charts' stylesheet (pygal's own, scoped) and the |
|  | dashboard's layout |

Query: `province` (as typed, with or without diacritics; by default the user's registered
province, else the session's), `district`, `commune`, `at` (YYYY-MM-DD, today in Vietnam by
default), `days` (of activity, 1 to 92), `target` (per cent, the plan's by default). Bad
input is answered 422 with the reason in both languages (the page keeps its form to correct
it; JSON carries a code). An office user registered for a province sees its area only
(dashboard.check_reach; another is 403 `outside_province`); supervisors and office-wide users
choose any.

Charts are server-side SVG drawn by pygal (a maintained library, LGPL-3.0, pure Python: no
script sent to the browser, nothing fetched from a CDN), placed inline so they are part of
the page (text a screen reader and a test can read, printable, no extra requests). pygal's
SVG carries an inline <style>, an inline <script> (its tooltips) and a few style attributes,
which the workspace's policy (verify_api.guards.WORKSPACE_POLICY: script-src and style-src
'self', no inline) refuses: `chart_svg` removes them, and pygal's stylesheet, rendered once
and scoped to the charts, is served from here as a file of this app. Each chart has a table
beside it with the same numbers.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import pygal
from fastapi import APIRouter, Request
from markupsafe import Markup
from pygal.style import Style
from starlette.responses import JSONResponse, Response

from backoffice import dashboard
from backoffice.dashboard import Figures, PlaceError, Sources
from backoffice.pages import PAGE_HEADERS
from backoffice.routes import Visit, page_for, signed_in_visit
from contract.events import InspectorRole
from contract.label import vietnam_date
from contract.search import place_key
from contract.verdict import Lang
from keys.certs import utc_now
from records.registry import RegistryReader
from verify_api.deps import role_of
from verify_api.routes.cases import cases_of

router = APIRouter()

OFFICE_ROLES = frozenset({InspectorRole.OFFICE, InspectorRole.SUPERVISOR})
"""Who sees the dashboard: the office's staff and supervisors (not field inspectors)."""

# -- words ------------------------------------------------------------------------------------

WORDS: dict[Lang, dict[str, str]] = {
    Lang.VI: {
        "title": "Toàn cảnh OCOP của tỉnh",
        "heading": "OCOP {place} — đến hết ngày {at}",
        "province": "Tỉnh/thành phố",
        "district": "Huyện/thị xã/thành phố (không bắt buộc)",
        "commune": "Xã/phường (không bắt buộc)",
        "at": "Đến ngày",
        "days": "Số ngày hoạt động",
        "target": "Chỉ tiêu (%)",
        "show": "Xem",
        "json": "JSON",
        "csv": "Tải CSV",
        "ask_province": "Chọn tỉnh/thành phố để xem số liệu.",
        "registered": "Sản phẩm đã đăng ký",
        "rated": "Sản phẩm OCOP còn hiệu lực (từ 3★)",
        "rated_percent": "Tỷ lệ đạt 3★ trở lên",
        "target_line": "Chỉ tiêu: ít nhất {target}% sản phẩm đăng ký đạt 3★ trở lên",
        "target_met": "Đạt chỉ tiêu",
        "target_missed": "Chưa đạt chỉ tiêu",
        "recognised": "Sản phẩm đã được công nhận từ 3★ (tính cả đã hết hạn)",
        "below_three": "Xếp hạng dưới 3★ (chưa là sản phẩm OCOP)",
        "producers": "Chủ thể có sản phẩm OCOP",
        "producers_registered": "Chủ thể có sản phẩm đăng ký",
        "districts": "Huyện, thị xã, thành phố có sản phẩm OCOP",
        "communes": "Xã, phường có sản phẩm OCOP",
        "by_stars": "Sản phẩm OCOP theo số sao",
        "by_kind": "Chủ thể theo loại hình",
        "by_group": "Sản phẩm OCOP theo nhóm",
        "by_district": "Sản phẩm OCOP theo huyện, thị xã, thành phố",
        "by_commune": "Sản phẩm OCOP theo xã, phường",
        "registered_vs_rated": "Đăng ký, đạt hạng và chỉ tiêu",
        "target_count": "Chỉ tiêu",
        "expiry": "Giấy chứng nhận sắp hết hạn và đã hết hạn",
        "expired": "Đã hết hạn (chưa đánh giá lại)",
        "revoked": "Đã bị thu hồi",
        "within": "Hết hạn trong {days} ngày",
        "shelf": "Danh sách cho kiểm tra trên kệ hàng",
        "shelf_empty": "Không có giấy chứng nhận nào đã hoặc sắp hết hạn trong 180 ngày.",
        "activity": "Cảnh báo, vụ việc và lượt quét mỗi ngày",
        "activity_note": "Tính theo nơi xảy ra (tỉnh), không theo huyện hay xã.",
        "alerts": "Cảnh báo",
        "cases": "Vụ việc",
        "scans": "Lượt quét của người tiêu dùng",
        "day": "Ngày",
        "stars": "Hạng sao",
        "count": "Số lượng",
        "kind": "Loại hình",
        "group": "Nhóm",
        "state": "Tình trạng",
        "product": "Sản phẩm",
        "producer": "Chủ thể",
        "certificate": "Số giấy chứng nhận",
        "ends_on": "Hết hiệu lực từ",
        "days_left": "Còn (ngày)",
        "at_least": "ít nhất",
        "kind_enterprise": "Doanh nghiệp",
        "kind_cooperative": "Hợp tác xã",
        "kind_cooperative_group": "Tổ hợp tác",
        "kind_household": "Hộ kinh doanh",
        "state_expired": "Đã hết hạn",
        "state_expiring": "Sắp hết hạn",
        "state_revoked": "Bị thu hồi",
        "group_food": "Thực phẩm",
        "group_drinks": "Đồ uống",
        "group_herbal": "Thảo dược",
        "group_handicrafts": "Thủ công mỹ nghệ",
        "group_ornamental": "Sinh vật cảnh",
        "group_tourism": "Du lịch cộng đồng",
        "how": "Cách tính: xem docs/dashboard.md.",
        "bad_date": "Ngày {text!r} không đúng dạng NNNN-TT-NN (ví dụ 2023-11-30).",
        "future_date": "Ngày {text} chưa đến: chỉ xem được đến hôm nay ({today}).",
        "early_date": "Chương trình OCOP bắt đầu năm 2018: hãy chọn ngày từ 2018-01-01.",
        "bad_days": "Số ngày hoạt động phải từ 1 đến {most}.",
        "bad_target": "Chỉ tiêu phải là số phần trăm từ 0 đến 100.",
    },
    Lang.EN: {
        "title": "The province's OCOP at a glance",
        "heading": "OCOP {place} — as of the end of {at}",
        "province": "Province or city",
        "district": "District or town (optional)",
        "commune": "Commune or ward (optional)",
        "at": "As of",
        "days": "Days of activity",
        "target": "Target (%)",
        "show": "Show",
        "json": "JSON",
        "csv": "Download CSV",
        "ask_province": "Choose a province to see its figures.",
        "registered": "Registered products",
        "rated": "OCOP products in force (3★ or more)",
        "rated_percent": "Share at 3★ or more",
        "target_line": "Target: at least {target}% of registered products at 3★ or more",
        "target_met": "Target met",
        "target_missed": "Target not met",
        "recognised": "Products recognised 3★ or more (expired included)",
        "below_three": "Rated below 3★ (not OCOP products)",
        "producers": "Producers with OCOP products",
        "producers_registered": "Producers with registered products",
        "districts": "Districts and cities with OCOP products",
        "communes": "Communes and wards with OCOP products",
        "by_stars": "OCOP products by stars",
        "by_kind": "Producers by type",
        "by_group": "OCOP products by group",
        "by_district": "OCOP products by district",
        "by_commune": "OCOP products by commune",
        "registered_vs_rated": "Registered, rated and the target",
        "target_count": "Target",
        "expiry": "Certificates expiring and expired",
        "expired": "Expired (not re-rated)",
        "revoked": "Revoked",
        "within": "Expiring within {days} days",
        "shelf": "The list for shelf checks",
        "shelf_empty": "No certificate has ended or ends within 180 days.",
        "activity": "Alerts, cases and scans per day",
        "activity_note": "Counted where they happened (the province), not by district or commune.",
        "alerts": "Alerts",
        "cases": "Cases",
        "scans": "Consumers' scans",
        "day": "Day",
        "stars": "Stars",
        "count": "Count",
        "kind": "Type",
        "group": "Group",
        "state": "State",
        "product": "Product",
        "producer": "Producer",
        "certificate": "Certificate no.",
        "ends_on": "No longer in force from",
        "days_left": "Days left",
        "at_least": "at least",
        "kind_enterprise": "Enterprises",
        "kind_cooperative": "Cooperatives",
        "kind_cooperative_group": "Cooperative groups",
        "kind_household": "Household businesses",
        "state_expired": "Expired",
        "state_expiring": "Expiring",
        "state_revoked": "Revoked",
        "group_food": "Food",
        "group_drinks": "Drinks",
        "group_herbal": "Herbal",
        "group_handicrafts": "Handicrafts",
        "group_ornamental": "Ornamental",
        "group_tourism": "Community tourism",
        "how": "How each figure is computed: docs/dashboard.md.",
        "bad_date": "The date {text!r} is not YYYY-MM-DD (e.g. 2023-11-30).",
        "future_date": "The date {text} has not come yet: figures go up to today ({today}).",
        "early_date": "The OCOP programme began in 2018: choose a date from 2018-01-01.",
        "bad_days": "Days of activity must be from 1 to {most}.",
        "bad_target": "The target must be a percentage from 0 to 100.",
    },
}


# -- charts: pygal's SVG, made fit for the workspace's policy ---------------------------------

_SVG = "http://www.w3.org/2000/svg"
ET.register_namespace("", _SVG)
ET.register_namespace("xlink", "http://www.w3.org/1999/xlink")
COLOURS = ("#1b7a3e", "#d4a017", "#b03a2e", "#2e6da4", "#7d3c98", "#5d6d7e", "#ca6f1e")
"""OCOP green, gold, red, then calm colours; series in this order in every chart."""
_STYLE = Style(
    background="transparent",
    plot_background="#ffffff",
    foreground="#222222",
    foreground_strong="#111111",
    foreground_subtle="#666666",
    colors=COLOURS,
    font_family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    title_font_size=15,
    label_font_size=12,
    major_label_font_size=12,
    value_font_size=12,
    legend_font_size=12,
    tooltip_font_size=12,
)
_CONFIG: dict[str, Any] = {
    "style": _STYLE,
    "no_prefix": True,  # the stylesheet is scoped by `_scoped` instead of per chart id
    "js": [],
    "disable_xml_declaration": True,
    "explicit_size": False,  # a viewBox only: the chart takes its box's width
    "width": 640,
    "height": 300,
    "print_values": True,
    "show_y_guides": True,
    "legend_at_bottom": True,
    "truncate_label": -1,
}
_DROPPED = {f"{{{_SVG}}}style", f"{{{_SVG}}}script"}
_SCOPE = "svg.pygal-chart"


Series = Sequence[tuple[str, Sequence[float | None]]]


def _chart(kind: str, title: str, labels: Sequence[str], series: Series, **options: Any) -> Any:
    cls = {"bar": pygal.Bar, "hbar": pygal.HorizontalBar, "line": pygal.Line,
           "stacked": pygal.StackedBar}[kind]  # fmt: skip
    chart = cls(**(_CONFIG | options))
    chart.title = title
    chart.x_labels = list(labels)
    for name, values in series:
        chart.add(name, list(values))
    return chart


def _clean(element: ET.Element) -> None:
    for child in list(element):
        if child.tag in _DROPPED or "tooltip" in child.get("class", "").split():
            element.remove(child)
        else:
            _clean(child)
    element.attrib.pop("style", None)


def chart_svg(
    kind: str,
    title: str,
    labels: Sequence[str],
    series: Series,
    *,
    chart_id: str,
    **options: Any,
) -> Markup:
    """One chart as inline SVG without script, style element or style attribute (the
    workspace's policy allows neither); `charts.css` styles it."""
    svg = _chart(kind, title, labels, series, **options).render(is_unicode=True)
    root = ET.fromstring(svg)  # noqa: S314 (pygal's output, from our own numbers)
    _clean(root)
    root.set("id", chart_id)
    root.set("role", "img")
    root.set("aria-label", title)
    return Markup(ET.tostring(root, encoding="unicode"))  # noqa: S704 (serialised by ElementTree)


def _scoped(css: str) -> str:
    """pygal's stylesheet with every selector under `_SCOPE` (its rules are flat)."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    rules = []
    for chunk in css.split("}"):
        if "{" not in chunk:
            continue
        selectors, body = chunk.split("{", 1)
        scoped = ", ".join(
            f"{_SCOPE} {s.strip()}" if s.strip() else _SCOPE for s in selectors.split(",")
        )
        rules.append(f"{scoped} {{{body.strip()}}}")
    return "\n".join(rules)


def _pygal_css() -> str:
    """pygal's stylesheet for our style and colours, rendered once from a sample chart."""
    sample = _chart("bar", "", ["a"], [(str(n), [1]) for n in range(len(COLOURS))])
    root = ET.fromstring(sample.render(is_unicode=True))  # noqa: S314 (pygal's output)
    return "\n".join(_scoped(e.text or "") for e in root.iter(f"{{{_SVG}}}style"))


_LAYOUT = """
.dash { max-width: 1200px; margin: 0 auto; }
.dash form.query { display: flex; flex-wrap: wrap; gap: .5rem; align-items: end; }
.dash form.query label { display: flex; flex-direction: column; font-size: .85rem; }
.dash .note { background: #fff8e1; border-left: 4px solid #d4a017; padding: .4rem .6rem; }
.dash .problem { background: #fdecea; border-left: 4px solid #b03a2e; padding: .4rem .6rem; }
.dash .tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(11rem, 1fr));
  gap: .6rem; padding: 0; list-style: none; }
.dash .tiles li { border: 1px solid #ddd; border-radius: 6px; padding: .5rem .7rem; }
.dash .tiles .n { font-size: 1.6rem; font-weight: 700; display: block; }
.dash .met { color: #1b7a3e; } .dash .missed { color: #b03a2e; }
.dash .panel { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr);
  gap: 1rem; align-items: start; margin: 1rem 0; border-top: 1px solid #eee; }
.dash .panel svg { width: 100%; height: auto; }
.dash table { border-collapse: collapse; width: 100%; font-size: .9rem; }
.dash th, .dash td { border-bottom: 1px solid #e5e5e5; padding: .25rem .4rem; text-align: left; }
.dash td.n, .dash th.n { text-align: right; font-variant-numeric: tabular-nums; }
.dash .scroll { overflow-x: auto; max-height: 32rem; overflow-y: auto; }
.dash .links a { margin-right: 1rem; }
@media (max-width: 760px) { .dash .panel { grid-template-columns: 1fr; } }
@media print { .dash form.query, .dash .links { display: none; } }
svg.pygal-chart .tooltip { display: none; }
"""
CHARTS_CSS = (_pygal_css() + "\n" + _LAYOUT).encode("utf-8")
CHARTS_CSS_VERSION = hashlib.sha256(CHARTS_CSS).hexdigest()[:12]
_YEAR_S = 365 * 86_400


# -- the query --------------------------------------------------------------------------------


class BadQuery(ValueError):
    status = 422

    def __init__(self, code: str, key: str, **values: Any) -> None:
        super().__init__(code)
        self.code = code
        self.vi = WORDS[Lang.VI][key].format(**values)
        self.en = WORDS[Lang.EN][key].format(**values)


def _int(text: str | None, low: int, high: int, key: str, **values: Any) -> int | None:
    if text is None or not text.strip():
        return None
    try:
        number = int(text.strip())
    except ValueError:
        raise BadQuery(key, key, **values) from None
    if not low <= number <= high:
        raise BadQuery(key, key, **values)
    return number


def parse_day(text: str | None, today: date) -> date:
    """The `at` parameter: YYYY-MM-DD, from 2018-01-01 to today (Vietnam)."""
    if text is None or not text.strip():
        return today
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise BadQuery("bad_date", "bad_date", text=text[:20]) from None
    if len(text.strip()) != 10:
        raise BadQuery("bad_date", "bad_date", text=text[:20])
    if day > today:
        raise BadQuery("future_date", "future_date", text=day.isoformat(), today=today)
    if day < dashboard.FIRST_DAY:
        raise BadQuery("early_date", "early_date")
    return day


def _wants_json(request: Request) -> bool:
    if request.query_params.get("format") == "json":
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _problem(code: str, vi: str, en: str) -> dict[str, Any]:
    return {"error": code, "message": {"vi": vi, "en": en}}


async def _open_sources(request: Request) -> Sources:
    """The records' readers on the host's session (the registry's prepared once and held in
    the host's state, where the API's registry routes hold theirs)."""
    host_state = request.app.state.workspace.host.state
    store = host_state.services.store
    registry: RegistryReader | None = getattr(host_state, "registry_reader", None)
    if registry is None:
        registry = await asyncio.to_thread(RegistryReader, store.session)
        host_state.registry_reader = registry
    cases = await cases_of(host_state)
    return Sources(
        registry=registry,
        certifications=store.certifications,
        alerts_on=store.alerts_on,
        cases_on=cases.cases_on,
        scans_by_day=store.scans_by_day,
    )


class Asked:
    """The dashboard's question, checked (BadQuery or PlaceError otherwise)."""

    def __init__(self, request: Request, visit: Visit) -> None:
        q = request.query_params
        today = vietnam_date(utc_now())
        self.values = {name: q.get(name, "") for name in
                       ("province", "district", "commune", "at", "days", "target")}  # fmt: skip
        self.at = parse_day(q.get("at"), today)
        most = dashboard.MAX_ACTIVITY_DAYS
        self.days = _int(q.get("days"), 1, most, "bad_days", most=most) or dashboard.ACTIVITY_DAYS
        self.target = _int(q.get("target"), 0, 100, "bad_target")
        supervisor = role_of(visit.inspector) is InspectorRole.SUPERVISOR
        home = None if supervisor else visit.inspector.province  # dashboard.check_reach
        province = q.get("province") or home or visit.session.province
        self.place = (
            None
            if not province
            else dashboard.place_of(province, self.at, q.get("district"), q.get("commune"))
        )
        if self.place is not None:
            dashboard.check_reach(self.place, home)
            self.values["province"] = self.values["province"] or self.place.province
        self.values["at"] = self.at.isoformat()


async def _figures(request: Request) -> tuple[Visit, Asked | None, Figures | None, Any]:
    """The visit, the question, its figures (None without a province), or the refusal."""
    visit = await signed_in_visit(request, roles=OFFICE_ROLES)
    try:
        asked = Asked(request, visit)
    except (BadQuery, PlaceError) as exc:
        return visit, None, None, exc
    if asked.place is None:
        return visit, asked, None, None
    found = await dashboard.read_dashboard(
        await _open_sources(request), asked.place, asked.at, days=asked.days,
        target_percent=asked.target,
    )  # fmt: skip
    return visit, asked, found, None


# -- the routes -------------------------------------------------------------------------------


@router.get("/office/dashboard")
async def dashboard_page(request: Request) -> Response:
    visit, asked, found, refused = await _figures(request)
    if _wants_json(request):
        if refused is not None:
            return JSONResponse(_problem(refused.code, refused.vi, refused.en), refused.status,
                                headers=PAGE_HEADERS)  # fmt: skip
        if found is None:
            return JSONResponse(_problem("province_required", "Cần chọn tỉnh/thành phố.",
                                         "A province is required."), 422,
                                headers=PAGE_HEADERS)  # fmt: skip
        return JSONResponse(found.model_dump(mode="json"), headers=PAGE_HEADERS)
    return _page(request, visit, asked, found, refused)


@router.get("/office/dashboard.csv")
async def dashboard_csv(request: Request) -> Response:
    visit, asked, found, refused = await _figures(request)
    if refused is not None or found is None:
        return _page(request, visit, asked, found, refused)
    name = place_key(found.place.label).replace(" ", "-") or "province"
    return Response(
        "\ufeff" + found.csv_text(),  # a BOM: Excel then reads the Vietnamese as UTF-8
        media_type="text/csv; charset=utf-8",
        headers=PAGE_HEADERS | {
            "Content-Disposition": f'attachment; filename="ocop-{name}-{found.at}.csv"'
        },
    )  # fmt: skip


@router.get("/office/dashboard/charts.css")
async def charts_css(request: Request) -> Response:
    current = request.query_params.get("v") == CHARTS_CSS_VERSION
    cache = f"public, max-age={_YEAR_S}, immutable" if current else "no-cache"
    return Response(CHARTS_CSS, media_type="text/css; charset=utf-8",
                    headers={"Cache-Control": cache})  # fmt: skip


def _page(
    request: Request,
    visit: Visit,
    asked: Asked | None,
    found: Figures | None,
    refused: BadQuery | PlaceError | None,
) -> Response:
    words = WORDS[visit.lang]
    problem = None
    if refused is not None:
        problem = (refused.vi, refused.en) if visit.lang is Lang.VI else (refused.en, refused.vi)
    values = asked.values if asked is not None else dict(request.query_params)
    base = str(request.scope.get("root_path") or "")
    query = "&".join(f"{k}={v}" for k, v in values.items() if v)
    return page_for(
        request, visit, "dashboard.html", status=refused.status if refused is not None else 200,
        here=base + "/office/dashboard", d=words, f=found, values=values, problem=problem,
        charts=_charts(found, words) if found is not None else {},
        css=f"{base}/office/dashboard/charts.css?v={CHARTS_CSS_VERSION}",
        json_link=f"{base}/office/dashboard?{query}&format=json",
        csv_link=f"{base}/office/dashboard.csv?{query}",
        note=found.place.note(visit.lang) if found is not None else "",
    )  # fmt: skip


def _pairs(counts: Mapping[str, int], words: Mapping[str, str], prefix: str) -> list[str]:
    return [words.get(prefix + key, key) for key in counts]


def _charts(f: Figures, w: Mapping[str, str]) -> dict[str, Markup]:
    kinds = f.producers_by_kind
    districts = dict(list(f.rated_by_district.items())[:20])
    target_count = round(f.registered * f.target_percent / 100)
    windows = {w["expired"]: f.expired, w["revoked"]: f.revoked}
    windows |= {w["within"].format(days=d): n for d, n in f.expiring.items()}
    days = [d.day.strftime("%d/%m") for d in f.activity]
    return {
        "stars": chart_svg("bar", w["by_stars"], [f"{s}★" for s in f.rated_by_stars],
                           [(w["rated"], list(f.rated_by_stars.values()))],
                           chart_id="chart-stars", show_legend=False),
        "kinds": chart_svg("bar", w["by_kind"], _pairs(kinds, w, "kind_"),
                           [(w["producers"], list(kinds.values()))],
                           chart_id="chart-kinds", show_legend=False),
        "target": chart_svg("hbar", w["registered_vs_rated"], [""],
                            [(w["registered"], [f.registered]), (w["rated"], [f.rated]),
                             (w["target_count"], [target_count])],
                            chart_id="chart-target", height=220),
        "districts": chart_svg("hbar", w["by_district"], list(districts),
                               [(w["rated"], list(districts.values()))],
                               chart_id="chart-districts", show_legend=False,
                               height=max(220, 34 * len(districts) + 90)),
        "expiry": chart_svg("bar", w["expiry"], list(windows),
                            [(w["count"], list(windows.values()))],
                            chart_id="chart-expiry", show_legend=False),
        "activity": chart_svg("line", w["activity"], days,
                              [(w["alerts"], [d.alerts for d in f.activity]),
                               (w["cases"], [d.cases for d in f.activity]),
                               (w["scans"], [d.scans for d in f.activity])],
                              chart_id="chart-activity", print_values=False,
                              x_labels_major_every=max(1, len(days) // 8),
                              show_minor_x_labels=False, x_label_rotation=0),
    }  # fmt: skip
