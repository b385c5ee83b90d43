"""Charts: functions that take prepared tables and return matplotlib figures, with no file I/O.

Every chart has a title, labelled axes with units, and a legend; the force a
report is about is highlighted, by more than its colour (its size, marker or
bold name), and no series is told from another by colour alone. Each figure
carries the figures it draws as a table (:func:`chart_data`), made from the
same data frame, which the page shows beside the chart. Every text is at least
9 points, 12 pixels on a page that shows the chart at its full size. The look is seaborn's (its "whitegrid" theme),
but the marks are drawn with matplotlib alone: a seaborn plotting call costs
a report tens of milliseconds more than the marks it draws (it reshapes the
data, and lays out tick labels to name the axes that each chart names again).
"""

from __future__ import annotations

import codecs
import textwrap
from dataclasses import dataclass
from functools import lru_cache

import matplotlib
import matplotlib.artist
import matplotlib.axes
import matplotlib.axis
import matplotlib.figure
import matplotlib.lines
import matplotlib.patches
import matplotlib.pyplot as plt
import matplotlib.textpath
import matplotlib.ticker as mticker
import matplotlib.transforms
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.backends.backend_mixed import MixedModeRenderer
from matplotlib.backends.backend_svg import FigureCanvasSVG, RendererSVG

from toolkit.stats.funnel import funnel_limits

__all__ = [
    "ChartData",
    "chart_data",
    "new_figure",
    "label_log_axis",
    "plot_funnel",
    "plot_force_effects",
    "plot_monthly_trend",
    "plot_grade_mix",
    "plot_shares_against",
    "plot_return_curves",
    "plot_hour_weekday_heatmap",
    "plot_share_bars",
]


@dataclass(frozen=True)
class ChartData:
    """The figures a chart draws, as a table: what a reader who cannot see the chart reads instead.

    Attributes
    ----------
    caption : str
    table : pandas.DataFrame
        One row per row of the table; the first column names the rows, the
        others are numbers (a missing one is a figure the chart does not draw).
    decimals : tuple of int
        Decimal places of each column after the first.
    missing : str
        What a missing number says.
    """

    caption: str
    table: pd.DataFrame
    decimals: tuple
    missing: str = "not shown"


def _attach_data(fig: matplotlib.figure.Figure, caption: str, table: pd.DataFrame, decimals, missing="not shown"):
    fig.chart_data = ChartData(caption, table.reset_index(drop=True), tuple(decimals), missing)


def chart_data(fig: matplotlib.figure.Figure) -> ChartData:
    """The table of what ``fig`` draws, made by the function that drew it.

    Raises
    ------
    ValueError
        The figure was not drawn by a function of this module.

    Examples
    --------
    >>> months = pd.Series(pd.date_range("2024-01-01", periods=2, freq="MS"))
    >>> data = chart_data(plot_monthly_trend(months, pd.Series([10.0, None]), None, "Kent"))
    >>> data.table.columns.tolist(), data.table.iloc[1, 0], bool(data.table.iloc[1].isna().iloc[1])
    (['Month reported', 'Episodes reported'], 'February 2024', True)
    >>> plt.close("all")
    """
    data = getattr(fig, "chart_data", None)
    if data is None:
        raise ValueError("a chart on a page shows its figures as a table: draw it with toolkit.publish.plots")
    return data


# What chooses the font file for a family name, and what shapes text in it: a measurement is of these too.
_FONT_SETTINGS = (
    "font.serif",
    "font.sans-serif",
    "font.cursive",
    "font.fantasy",
    "font.monospace",
    "text.kerning_factor",
    "text.hinting_factor",
)
_TEXT_TO_PATH = matplotlib.textpath.TextToPath()


@lru_cache(maxsize=4096)
def _measure_text(text: str, font: matplotlib.font_manager.FontProperties, settings: tuple) -> tuple:
    """Width, height and descent of ``text`` in ``font`` at 72 dpi, in points (what an SVG renderer measures)."""
    return _TEXT_TO_PATH.get_text_width_height_descent(text, font, False)


def _font_settings() -> tuple:
    return tuple(str(matplotlib.rcParams[name]) for name in _FONT_SETTINGS)


# The tables of a font file that give a line's height, in the order matplotlib reads them (Text._get_layout).
_LINE_TABLES = (("OS/2", "sTypoLineGap", "sTypoAscender", "sTypoDescender"), ("hhea", "lineGap", "ascent", "descent"))


@lru_cache(maxsize=256)
def _font_height_metrics(font: matplotlib.font_manager.FontProperties, settings: tuple) -> tuple:
    """Ascent, descent and line gap of ``font`` at 72 dpi, in points, from its file's tables as matplotlib reads them.

    ``(None, None, None)`` for a font without the tables: matplotlib then measures a text instead.

    Examples
    --------
    >>> ascent, descent, gap = _font_height_metrics(matplotlib.font_manager.FontProperties(size=10), _font_settings())
    >>> 0 < descent < ascent < 10, gap >= 0
    (True, True)
    """
    file = matplotlib.font_manager.get_font(matplotlib.font_manager.fontManager._find_fonts_by_props(font))
    for table_name, gap, ascent, descent in _LINE_TABLES:
        table = file.get_sfnt_table(table_name)
        if table is not None:
            # Matplotlib's sum, step for step (at the SVG renderer's 72 dpi): the same floats, the same SVG.
            scale = 1 / file.get_sfnt_table("head")["unitsPerEm"] * font.get_size_in_points() * 72 / 72
            return table[ascent] * scale, -table[descent] * scale, table[gap] * scale
    return None, None, None


class _ChartRenderer(RendererSVG):
    """Matplotlib's SVG renderer, but a text measured once is not measured again for the next chart.

    Matplotlib measures each label of a chart (shaping it with FreeType, a
    millisecond for a title) once per renderer, and every chart saved has a new
    one: the same tick labels, force names and legends were measured again for
    each of a report's charts, and again for each report of a warm kernel, a
    quarter of the drawing time. The measurement is the renderer's own.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # What a measurement depends on besides the text and its font, read once a chart rather than once a
        # text (a chart measures hundreds): no setting changes while a figure is drawn.
        self._font_settings = _font_settings()

    def get_text_width_height_descent(self, s, prop, ismath):
        if ismath:  # mathtext or TeX: as matplotlib does it
            return super().get_text_width_height_descent(s, prop, ismath)
        return _measure_text(
            s, prop.copy(), self._font_settings
        )  # a copy: FontProperties can change, and hash as they are

    def _get_font_height_metrics(self, prop):
        """A line's height in ``prop``'s font, from the font file's tables: read once, not once a text.

        Matplotlib lays out each text drawn or measured by these (finding the font's file and reading two
        of its tables, a tenth of a report's drawing time), and asks a renderer first if it has them.
        An SVG renderer draws at 72 dpi (:meth:`_ChartCanvas.print_svg`), the dpi they are read at.
        """
        return _font_height_metrics(prop.copy(), self._font_settings)


class _ChartCanvas(FigureCanvasSVG):
    """Matplotlib's SVG canvas, drawing with :class:`_ChartRenderer`."""

    def print_svg(self, filename, *, bbox_inches_restore=None, metadata=None, **_applied):
        """Write the figure as SVG, as :meth:`FigureCanvasSVG.print_svg` does.

        ``savefig`` also passes what it has applied to the figure already (its colours, orientation, dpi).
        """
        with matplotlib.cbook.open_file_cm(filename, "w", encoding="utf-8") as stream:
            if not matplotlib.cbook.file_requires_unicode(stream):
                stream = codecs.getwriter("utf-8")(stream)
            dpi = self.figure.dpi
            self.figure.dpi = 72
            width, height = self.figure.get_size_inches()
            vector = _ChartRenderer(width * 72, height * 72, stream, image_dpi=dpi, metadata=metadata)
            renderer = MixedModeRenderer(
                self.figure, width, height, dpi, vector, bbox_inches_restore=bbox_inches_restore
            )
            self.figure.draw(renderer)
            renderer.finalize()


class _TicksWhenDrawn:
    """An axis (x or y) that makes its ticks when it draws them, not while its axes are built.

    Matplotlib makes each axis a first major and minor tick as it builds an axes, and styles and clips
    them there, five artists a tick: a fifth of what an empty chart costs. A chart's axes here name their
    ticks with texts (:func:`_label_ticks`, :func:`_name_rows`) and so draw none, and a tick made later has
    the style and the clipping it would have had (kept for it, as matplotlib keeps them for the ticks it adds).
    """

    def _made_ticks(self) -> list:
        return [*vars(self).get("majorTicks", ()), *vars(self).get("minorTicks", ())]

    def set_clip_path(self, path, transform=None):
        """Clip the axis, and every tick it has made or will make, to ``path``."""
        matplotlib.artist.Artist.set_clip_path(self, path, transform)
        self._tick_clip = (path, transform)
        for tick in self._made_ticks():
            tick.set_clip_path(path, transform)
        self.stale = True

    def _get_tick(self, major):
        tick = super()._get_tick(major)
        if getattr(self, "_tick_clip", None) is not None:
            tick.set_clip_path(*self._tick_clip)
        return tick

    def set_tick_params(self, which="major", reset=False, **kwargs):
        """Style the ticks as matplotlib does; with none made yet, only those made later (it keeps the style)."""
        unmade = [name for name in ("majorTicks", "minorTicks") if name not in vars(self)]
        for name in unmade:
            setattr(self, name, [])  # none to restyle now
        try:
            super().set_tick_params(which, reset, **kwargs)
        finally:
            for name in unmade:
                if vars(self).get(name) == []:
                    delattr(self, name)  # still none: made when first needed, as before

    def get_major_ticks(self, numticks=None):
        """The first ``numticks`` major ticks (those drawn by default); none made for an axis that draws none."""
        numticks = len(self.get_majorticklocs()) if numticks is None else numticks
        return [] if numticks == 0 and "majorTicks" not in vars(self) else super().get_major_ticks(numticks)

    def get_minor_ticks(self, numticks=None):
        """The first ``numticks`` minor ticks (those drawn by default); none made for an axis that draws none."""
        numticks = len(self.get_minorticklocs()) if numticks is None else numticks
        return [] if numticks == 0 and "minorTicks" not in vars(self) else super().get_minor_ticks(numticks)


class _ChartXAxis(_TicksWhenDrawn, matplotlib.axis.XAxis):
    pass


class _ChartYAxis(_TicksWhenDrawn, matplotlib.axis.YAxis):
    pass


class _ChartAxes(matplotlib.axes.Axes):
    """Matplotlib's axes, with axes that make their ticks only when they draw some (:class:`_TicksWhenDrawn`)."""

    def _init_axis(self):
        self.xaxis = _ChartXAxis(self, clear=False)
        self.spines.bottom.register_axis(self.xaxis)
        self.spines.top.register_axis(self.xaxis)
        self.yaxis = _ChartYAxis(self, clear=False)
        self.spines.left.register_axis(self.yaxis)
        self.spines.right.register_axis(self.yaxis)

    def clear(self):
        """Clear the axes as matplotlib does, and place the spines, as its first ticks would have."""
        super().clear()
        # A spine is placed (given its transform) when something first asks for it: matplotlib's first
        # ticks do, as the axes are built. Without them, each spine is placed here, where they placed it.
        for spine in self.spines.values():
            spine.get_spine_transform()


def _draw_points(ax: plt.Axes, x, y, colour, size: float = 36, **kwargs) -> None:
    """Filled circles of ``size`` square points with a thin white edge, as seaborn draws a scatter plot."""
    ax.scatter(x, y, s=size, color=colour, edgecolor="w", linewidths=_edge_width(size), **kwargs)


def _edge_width(size: float) -> float:
    return 0.08 * np.sqrt(size)  # seaborn's: the edge grows with the point


def _point_key(colour, label: str) -> matplotlib.lines.Line2D:
    """A legend key for the points :func:`_draw_points` draws at its default size."""
    return matplotlib.lines.Line2D(
        [],
        [],
        linestyle="",
        marker="o",
        markersize=6,
        color=colour,
        markeredgecolor="w",
        markeredgewidth=_edge_width(36),
        label=label,
    )


def _draw_line(ax: plt.Axes, x: pd.Series, y: pd.Series, **kwargs) -> None:
    """A line through the points in x order, joined across missing values, white-edged markers (seaborn's)."""
    points = pd.DataFrame({"x": x.to_numpy(), "y": y.to_numpy()}).dropna().sort_values(["x", "y"])
    ax.plot(points["x"], points["y"], markeredgewidth=0.75, markeredgecolor="w", **kwargs)


def _plain_number(value: float, _position=None) -> str:
    return f"{value:,.0f}" if value >= 1 else f"{value:g}"


def label_log_axis(axis: matplotlib.axis.Axis, ticks: tuple[float, ...] = (1.0,)) -> None:
    """Label a log-scale axis with plain numbers (``100,000``, ``0.5``) rather than powers of ten.

    ``ticks`` are the multiples of each power of ten that get a labelled tick.
    Plain numbers read more easily, and drawing them needs no mathtext (a
    tenth of a report's drawing time).

    Examples
    --------
    >>> fig, ax = plt.subplots()
    >>> ax.set_xscale("log"); ax.set_xlim(0.1, 10)
    (0.1, 10)
    >>> label_log_axis(ax.xaxis, (1, 2, 5))
    >>> [v for v in ax.xaxis.get_major_locator()() if 0.1 <= v <= 1]
    [np.float64(0.1), np.float64(0.2), np.float64(0.5), np.float64(1.0)]
    >>> label = ax.xaxis.get_major_formatter()
    >>> label(0.5), label(1_000_000)
    ('0.5', '1,000,000')
    >>> plt.close(fig)
    """
    axis.set_major_locator(mticker.LogLocator(subs=ticks))
    axis.set_major_formatter(mticker.FuncFormatter(_plain_number))
    # No minor ticks: the charts' theme draws no tick marks and no minor grid, and each tick would be
    # made and drawn all the same (a log axis has some twenty).
    axis.set_minor_locator(mticker.NullLocator())
    axis.set_minor_formatter(mticker.NullFormatter())


def new_figure(
    width: float, height: float, left: float = 0.8, bottom: float = 0.6, top: float = 0.45, right: float = 0.2
) -> tuple[matplotlib.figure.Figure, plt.Axes]:
    """One axes on a figure with fixed margins, all in inches.

    Fixed margins replace ``tight_layout``, which lays out every tick label an
    extra time and cost a third of the drawing time of a report's charts. Each
    chart states the room its labels need.

    Examples
    --------
    >>> fig, ax = new_figure(8, 4, left=1.0)
    >>> float(round(ax.get_position().x0 * 8, 2)), float(fig.get_size_inches()[1])
    (1.0, 4.0)
    >>> plt.close(fig)
    """
    # A fixed title height: matplotlib otherwise measures every tick label at each draw to see whether
    # the title must move up clear of them, a third of the drawing time (no chart here has top ticks).
    with plt.rc_context({"axes.titley": 1.0}):
        fig, ax = plt.subplots(figsize=(width, height), subplot_kw={"axes_class": _ChartAxes})
    _ChartCanvas(fig)  # saved as SVG with the texts other charts measured (a PNG is drawn as before)
    fig.subplots_adjust(left=left / width, right=1 - right / width, bottom=bottom / height, top=1 - top / height)
    return fig, ax


def plot_funnel(
    comparison: pd.DataFrame,
    dispersion: dict,
    highlight: str,
    statistic: str,
    title: str,
    xlabel: str,
    ylabel: str,
    multiplier: float = 1,
    labels: dict | None = None,
) -> matplotlib.figure.Figure:
    """Draw a funnel plot: each unit's value against its denominator, with 95% and 99.8% limits.

    Parameters
    ----------
    comparison, dispersion
        As returned by :func:`toolkit.stats.funnel.compare_with_funnel`.
    highlight : str
        The unit to highlight (a force code).
    statistic : {"proportion", "rate"}
    title, xlabel, ylabel : str
        Chart text; the axes' units belong in the labels.
    multiplier : float
        As given to ``compare_with_funnel``.
    labels : dict, optional
        Unit -> display name for the highlighted unit's label.

    Returns
    -------
    matplotlib.figure.Figure
    """
    sns.set_theme(style="whitegrid", context="notebook")
    fig, ax = new_figure(8, 5.5, left=0.9, bottom=1.2)  # the legend sits under the x-axis label
    n = comparison["denominator"].to_numpy(dtype=float)
    grid = np.geomspace(max(n.min() * 0.8, 1), n.max() * 1.2, 200)
    baseline = dispersion["baseline"]
    tau2 = dispersion["tau2"] if dispersion["adjusted"] else None
    for level, style in ((0.95, "--"), (0.998, ":")):
        lo, hi = funnel_limits(statistic, baseline, grid, level, multiplier, tau2)
        label = f"{level:.1%} limits".replace(".0%", "%")
        ax.plot(grid, lo, style, color="0.35", linewidth=1, label=label)
        ax.plot(grid, hi, style, color="0.35", linewidth=1)
    ax.axhline(baseline, color="#1f77b4", linewidth=1, label="England and Wales")
    others = comparison[comparison["unit"] != highlight]
    mine = comparison[comparison["unit"] == highlight]
    _draw_points(ax, others["denominator"], others["value"], "0.45", 30, label="Other forces")
    if len(mine):
        name = (labels or {}).get(highlight, highlight)
        _draw_points(ax, mine["denominator"], mine["value"], "#d62728", 70, label=name, zorder=5)
    ax.set_xscale("log")
    label_log_axis(ax.xaxis)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=3, frameon=False)
    _label_ticks(ax, "x")
    _label_ticks(ax, "y")
    names = [(labels or {}).get(unit, unit) for unit in comparison["unit"]]
    table = pd.DataFrame({"Force": names, xlabel: n, ylabel: comparison["value"].to_numpy(dtype=float)})
    _attach_data(fig, title, table.sort_values("Force"), (0, 1 if multiplier > 1 else 3))
    return fig


def plot_force_effects(
    effects: pd.DataFrame,
    highlight: str,
    title: str,
    xlabel: str,
    labels: dict | None = None,
    reference: tuple[float, str] = (1.0, "Average force"),
) -> matplotlib.figure.Figure:
    """A caterpillar plot: every force's estimate with its interval, sorted, the highlighted force in red.

    Parameters
    ----------
    effects : pandas.DataFrame
        ``force_code``, ``value``, ``lower``, ``upper`` (odds ratios against the average force, or any
        positive figure: the axis is logarithmic).
    highlight : str
        Force code drawn in red.
    title, xlabel : str
    labels : dict, optional
        Force code to the name shown on the axis.
    reference : (float, str)
        Where the dashed reference line is drawn, and its legend label.

    Examples
    --------
    >>> t = pd.DataFrame({"force_code": ["a", "b"], "value": [0.8, 1.5], "lower": [0.6, 1.1], "upper": [1.1, 2.0]})
    >>> fig = plot_force_effects(t, "b", "Grading", "Odds ratio")
    >>> fig.axes[0].get_xscale()
    'log'
    """
    data = effects.sort_values("value").reset_index(drop=True)
    names = [(labels or {}).get(code, code) for code in data["force_code"]]
    mine = (data["force_code"] == highlight).to_numpy()
    # Room on the left for force names, and at the top for a title wrapped onto two lines.
    fig, ax = new_figure(8, max(3.0, 0.22 * len(data) + 1.3), left=1.6, top=0.7)
    positions = np.arange(len(data))
    for selected, colour in ((~mine, "0.45"), (mine, "#d62728")):
        ax.errorbar(
            data.loc[selected, "value"],
            positions[selected],
            xerr=[
                data.loc[selected, "value"] - data.loc[selected, "lower"],
                data.loc[selected, "upper"] - data.loc[selected, "value"],
            ],
            fmt="none",
            ecolor=colour,
            elinewidth=1.2,
        )
    colours = {"Other forces": "0.45", "This force": "#d62728"}
    _draw_points(ax, data["value"], positions, np.where(mine, colours["This force"], colours["Other forces"]), zorder=3)
    reference_line = ax.axvline(reference[0], color="0.2", linestyle="--", linewidth=1, label=reference[1])
    ax.set_xscale("log")
    label_log_axis(ax.xaxis, (1, 2, 5))
    # The highlighted force's name in bold: its colour is not the only thing that marks it out.
    _name_rows(ax, positions, names, "Force", fontsize=9, bold=mine)
    ax.set_title("\n".join(textwrap.wrap(title, 70)))  # long titles wrap rather than run off the figure
    ax.set_xlabel(xlabel)
    keys = [_point_key(colour, label) for label, colour in colours.items()]
    ax.legend(handles=[*keys, reference_line], loc="lower right", fontsize=9)
    _label_ticks(ax, "x")
    table = pd.DataFrame(
        {
            "Force": names,
            "Estimate": data["value"].to_numpy(dtype=float),
            "95% interval from": data["lower"].to_numpy(dtype=float),
            "95% interval to": data["upper"].to_numpy(dtype=float),
        }
    )
    _attach_data(fig, f"{title} ({xlabel}; {reference[1]}: {reference[0]:.2f})", table[::-1], (2, 2, 2))
    return fig


def _name_rows(
    ax: plt.Axes, positions, names: list[str], label: str = "", fontsize: float | None = None, bold=None
) -> None:
    """Name each row of a chart at the left of its axes, with a grid line, as tick labels would: but cheaply.

    A tick is five artists (two tick marks, a grid line, two labels), made one by one and updated three
    times a draw: the 43 forces of a caterpillar plot cost more than everything else in it. Here each name
    is a text where its tick label would be (the same font, colour and offset), the grid lines one
    collection, and the axis label (if any) is placed clear of the longest name as matplotlib would. ``bold``
    marks the names set in bold (a boolean per row).
    """
    ax.set_yticks([])
    rc = matplotlib.rcParams
    direction = {"in": 0.0, "inout": 0.5, "out": 1.0}[rc["ytick.direction"]]
    offset = rc["ytick.major.pad"] + rc["ytick.major.size"] * direction  # points left of the axes
    transform, va, ha = ax.get_yaxis_text1_transform(offset)
    colour = rc["ytick.color"] if rc["ytick.labelcolor"] == "inherit" else rc["ytick.labelcolor"]
    weights = ["bold" if b else "normal" for b in (np.zeros(len(names), bool) if bold is None else bold)]
    texts = [
        ax.text(
            0,
            y,
            name,
            transform=transform,
            va=va,
            ha=ha,
            fontsize=fontsize or rc["ytick.labelsize"],
            color=colour,
            fontweight=weight,
        )
        for y, name, weight in zip(positions, names, weights, strict=True)
    ]
    if _theme_draws_grid("y"):
        _draw_grid(ax, "y", positions)
    if not label:
        return
    settings = _font_settings()
    widest = max((_measure_text(t.get_text(), t.get_fontproperties().copy(), settings)[0] for t in texts), default=0)
    ax.set_ylabel(label)
    shift = matplotlib.transforms.ScaledTranslation(
        -(offset + widest + rc["axes.labelpad"]) / 72, 0, ax.figure.dpi_scale_trans
    )
    ax.yaxis.set_label_coords(0, 0.5, transform=ax.transAxes + shift)


def _theme_draws_grid(which: str) -> bool:
    """Whether the theme draws major grid lines across the ``which`` ("x" or "y") axis's ticks."""
    rc = matplotlib.rcParams
    return rc["axes.grid"] and rc["axes.grid.axis"] in ("both", which) and rc["axes.grid.which"] in ("both", "major")


def _draw_grid(ax: plt.Axes, which: str, positions) -> None:
    """The theme's major grid lines at ``positions`` of the ``which`` axis, as one collection (not one a tick)."""
    rc = matplotlib.rcParams
    style = {
        "colors": rc["grid.color"],
        "linewidths": rc["grid.linewidth"],
        "linestyles": rc["grid.linestyle"],
        "alpha": rc["grid.alpha"],
        "capstyle": rc["lines.solid_capstyle"],
        "zorder": 0.5 if rc["axes.axisbelow"] is True else 2.5,
    }
    if which == "x":
        ax.vlines(positions, 0, 1, transform=ax.get_xaxis_transform(which="grid"), **style)
    else:
        ax.hlines(positions, 0, 1, transform=ax.get_yaxis_transform(which="grid"), **style)


def _spine_extent(ax: plt.Axes, side: str, renderer) -> matplotlib.transforms.Bbox:
    """The box of the axes' spine on ``side`` (the axes' own without one), with its axis's drawn ticks.

    A spine's box grows by the marks of the ticks its axis draws; with none drawn it is the line's own, and
    asking matplotlib for it would make the axis a tick only to find it is not drawn.
    """
    spine = ax.spines.get(side)
    if spine is None:
        return ax.get_window_extent(renderer)
    if spine.axis is not None and spine.axis.get_visible() and spine.axis._update_ticks():
        return spine.get_window_extent(renderer)
    spine._adjust_location()  # as Spine.get_window_extent does first
    return matplotlib.patches.Patch.get_window_extent(spine, renderer)


class _AxisLabelPlacer(matplotlib.artist.Artist):
    """Places an axis's label clear of tick labels drawn as texts, as matplotlib places it clear of its ticks'.

    Drawn just before the axis, with the renderer's own measure of the texts: the label lands where
    matplotlib would have put it beside its own tick labels, on any backend.
    """

    def __init__(self, axis: matplotlib.axis.Axis, texts: list) -> None:
        super().__init__()
        self._axis, self._texts = axis, texts
        self.set_zorder(axis.get_zorder() - 0.01)

    def draw(self, renderer) -> None:
        axis, ax = self._axis, self._axis.axes
        pad = axis.labelpad * ax.get_figure(root=True).dpi / 72
        side = "bottom" if axis is ax.xaxis else "left"
        boxes = [text.get_window_extent(renderer) for text in self._texts]
        box = matplotlib.transforms.Bbox.union([*boxes, _spine_extent(ax, side, renderer)])
        # In display units along the axis's normal, as matplotlib positions its labels.
        identity, blend = matplotlib.transforms.IdentityTransform(), matplotlib.transforms.blended_transform_factory
        if side == "bottom":
            axis.set_label_coords(0.5, box.y0 - pad, blend(ax.transAxes, identity))
        else:
            axis.set_label_coords(box.x0 - pad, 0.5, blend(identity, ax.transAxes))


def _label_ticks(
    ax: plt.Axes,
    which: str,
    ticks: tuple | None = None,
    fontsize: float | None = None,
    rotation: float = 0,
    ha: str | None = None,
    grid: bool | None = None,
) -> None:
    """Label an axis's ticks with plain texts and draw its grid lines as one collection: as matplotlib would, cheaply.

    Each tick is five artists, made one by one at every save and each drawn: a chart's two axes cost more
    to draw than all its marks, and an empty chart five times what it costs without them. Here the axis's
    own locator and formatter give the labels, placed where its tick labels would be (the same font,
    colour and offset), with the axis label clear of them (:class:`_AxisLabelPlacer`). Call it once the
    axis's limits are final: they are fixed here. A theme that draws tick marks, or a formatter with an
    offset (``1e6``), keeps matplotlib's ticks.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    which : {"x", "y"}
    ticks : (sequence of float, sequence of str), optional
        Where the ticks are and their labels (categories); the axis's locator and formatter by default.
    fontsize : float, optional
        The labels' size; the theme's tick label size by default.
    rotation, ha
        The labels' angle and horizontal alignment (slanted dates: 30 and "right").
    grid : bool, optional
        Whether grid lines are drawn at the ticks; the theme decides by default.

    Examples
    --------
    >>> with plt.rc_context({"xtick.bottom": False, "ytick.left": False}):
    ...     fig, ax = new_figure(4, 3)
    ...     ax.plot([0, 10], [0, 1]); _label_ticks(ax, "x")
    [...]
    >>> [t.get_text() for t in ax.texts], len(ax.get_xticks())
    (['0', '2', '4', '6', '8', '10'], 0)
    >>> plt.close(fig)
    """
    rc = matplotlib.rcParams
    axis = ax.xaxis if which == "x" else ax.yaxis
    if rc[f"{which}tick.{'bottom' if which == 'x' else 'left'}"] and rc[f"{which}tick.major.size"] > 0:
        return  # tick marks to draw: matplotlib's ticks draw them
    limits = ax.get_xlim() if which == "x" else ax.get_ylim()  # autoscaled now, as drawing would
    if ticks is None:
        locations = np.asarray(axis.get_major_locator()(), dtype=float)
        formatter = axis.get_major_formatter()
        labels = formatter.format_ticks(locations)
        if formatter.get_offset():
            return
    else:
        locations, labels = np.asarray(ticks[0], dtype=float), list(ticks[1])
    # The ticks matplotlib draws: those within the limits (on the axis's scale, to a hair).
    scale = axis.get_transform()
    low, high = sorted(scale.transform(np.asarray(limits, dtype=float)))
    where = scale.transform(locations) if len(locations) else locations
    tolerance = (high - low) * 1e-10
    drawn = (where >= low - tolerance) & (where <= high + tolerance)
    (ax.set_xlim if which == "x" else ax.set_ylim)(limits)  # fixed: nothing drawn later moves them
    axis.set_major_locator(mticker.NullLocator())
    direction = {"in": 0.0, "inout": 0.5, "out": 1.0}[rc[f"{which}tick.direction"]]
    offset = rc[f"{which}tick.major.pad"] + rc[f"{which}tick.major.size"] * direction  # points from the axes
    transform, va, default_ha = (ax.get_xaxis_text1_transform if which == "x" else ax.get_yaxis_text1_transform)(offset)
    colour = rc[f"{which}tick.color"] if rc[f"{which}tick.labelcolor"] == "inherit" else rc[f"{which}tick.labelcolor"]
    style = {
        "transform": transform,
        "va": va,
        "ha": ha or default_ha,
        "rotation": rotation,
        "fontsize": fontsize or rc[f"{which}tick.labelsize"],
        "color": colour,
    }
    texts = [
        ax.text(*((at, 0) if which == "x" else (0, at)), label, **style)
        for at, label, shown in zip(locations, labels, drawn, strict=True)
        if shown
    ]
    if grid if grid is not None else _theme_draws_grid(which):
        _draw_grid(ax, which, locations[drawn])
    axis.set_label_coords(0.5, 0) if which == "x" else axis.set_label_coords(0, 0.5)  # placed when drawn
    ax.add_artist(_AxisLabelPlacer(axis, texts))


def plot_monthly_trend(
    months: pd.Series, episodes: pd.Series, fitted: pd.Series | None, force_name: str
) -> matplotlib.figure.Figure:
    """Episodes per month as points joined by a line, with the fitted trend where there is one.

    Parameters
    ----------
    months : pandas.Series
        The first day of each month.
    episodes : pandas.Series
        Episodes reported each month; a missing value is a month not drawn.
    fitted : pandas.Series, optional
        The fitted trend for each month.
    force_name : str

    Examples
    --------
    >>> months = pd.Series(pd.date_range("2024-01-01", periods=3, freq="MS"))
    >>> fig = plot_monthly_trend(months, pd.Series([10.0, None, 12.0]), None, "Kent")
    >>> fig.axes[0].get_ylabel()
    'Episodes per month'
    >>> plt.close(fig)
    """
    fig, ax = new_figure(8, 4, bottom=0.9)  # month labels are slanted
    _draw_line(ax, months, episodes, marker="o", color="0.3", label="Episodes reported")
    if fitted is not None:
        _draw_line(ax, months, fitted, color="#d62728", label="Fitted trend")
    ax.legend()
    ax.set_title(f"{force_name}: missing and absent episodes per month")
    ax.set_xlabel("Month reported")
    ax.set_ylabel("Episodes per month")
    ax.set_ylim(bottom=0)
    _label_ticks(ax, "x", rotation=30, ha="right")  # slanted, as Figure.autofmt_xdate sets them
    _label_ticks(ax, "y")
    table = pd.DataFrame(
        {"Month reported": [f"{m:%B %Y}" for m in months], "Episodes reported": episodes.to_numpy(dtype=float)}
    )
    if fitted is not None:
        table["Fitted trend"] = fitted.to_numpy(dtype=float)
    _attach_data(fig, ax.get_title(), table, (0, 1)[: table.shape[1] - 1], "withheld")
    return fig


_AREA_HATCHES = ["", "//", ".."]  # this force, its comparator group, England and Wales


def plot_grade_mix(shares: pd.DataFrame, grades: list[str], areas: list[str], title: str) -> matplotlib.figure.Figure:
    """Grouped bars of the share of episodes at each risk grade, one bar per area in each group.

    Parameters
    ----------
    shares : pandas.DataFrame
        ``grade``, ``where`` (the area's label) and ``share`` (per cent); a
        missing share is a bar not drawn.
    grades, areas : list of str
        The order of the groups and of the bars in each (red, grey, blue).
    title : str

    Examples
    --------
    >>> t = pd.DataFrame({"grade": ["Low", "High"], "where": ["This force"] * 2, "share": [70.0, 30.0]})
    >>> fig = plot_grade_mix(t, ["Low", "High"], ["This force"], "Grades")
    >>> fig.axes[0].get_ylabel()
    'Share of graded episodes (%)'
    >>> plt.close(fig)
    """
    fig, ax = new_figure(8, 4)
    # Seaborn's grouped bars: 0.8 of each group wide, shared by its bars, in colours at 75% saturation.
    width = 0.8 / len(areas)
    colours = sns.color_palette(["#d62728", "#7f7f7f", "#1f77b4"][: len(areas)], desat=0.75)
    # Each area's bars have their own hatching too: the colour is not the only thing that tells them apart.
    hatches = _AREA_HATCHES[: len(areas)]
    table = pd.DataFrame({"First risk grade": grades})
    for i, (area, colour, hatch) in enumerate(zip(areas, colours, hatches, strict=True)):
        bars = shares[shares["where"] == area].set_index("grade")["share"].reindex(grades)
        drawn = bars.notna().to_numpy()
        edges = np.arange(len(grades))[drawn] - 0.4 + i * width
        ax.bar(edges, bars.to_numpy()[drawn], width, align="edge", color=colour, hatch=hatch, edgecolor="white")
        table[f"{area} (%)"] = bars.to_numpy(dtype=float)
    ax.set_xlim(-0.5, len(grades) - 0.5)
    # The groups are categories: no grid line through them.
    _label_ticks(ax, "x", (range(len(grades)), grades), grid=False)
    _label_ticks(ax, "y")
    ax.set_title(title)
    ax.set_xlabel("First risk grade")
    ax.set_ylabel("Share of graded episodes (%)")
    # One key per area, in order, whether or not it has bars (the comparator group may have none).
    keys = [
        matplotlib.patches.Rectangle((0, 0), 0, 0, facecolor=c, hatch=h, edgecolor="white", label=a)
        for a, c, h in zip(areas, colours, hatches, strict=True)
    ]
    ax.legend(handles=keys, title=None)
    _attach_data(fig, title, table, (1,) * len(areas), "withheld or not shown")
    return fig


def plot_shares_against(rows: pd.DataFrame, title: str, xlabel: str) -> matplotlib.figure.Figure:
    """Each measure's share for the force (a dot with its 95% interval), its comparator group and England and Wales.

    Parameters
    ----------
    rows : pandas.DataFrame
        One row per measure, drawn top to bottom: ``label``, and as shares from 0 to 1 the force's
        ``value``, ``lower`` and ``upper`` (missing: withheld, not drawn), ``comparators`` and ``national``
        (missing: not drawn).
    title, xlabel : str

    Examples
    --------
    >>> rows = pd.DataFrame({"label": ["Reviewed in time"], "value": [0.6], "lower": [0.55], "upper": [0.65],
    ...                      "comparators": [0.8], "national": [0.9]})
    >>> fig = plot_shares_against(rows, "Supervision", "Share of episodes (%)")
    >>> [float(x) for x in fig.axes[0].get_xlim()], [t.get_text() for t in fig.axes[0].texts]
    ([0.0, 100.0], ['Reviewed in time'])
    >>> plt.close(fig)
    """
    fig, ax = new_figure(8, 1.4 + 0.6 * len(rows), left=3.0, bottom=0.9)
    y = np.arange(len(rows))[::-1].astype(float)
    value = rows["value"].to_numpy(dtype=float) * 100
    spread = np.vstack(
        [value - rows["lower"].to_numpy(dtype=float) * 100, rows["upper"].to_numpy(dtype=float) * 100 - value]
    )
    ax.errorbar(value, y, xerr=spread, fmt="o", color="#d62728", capsize=4, label="This force (95% interval)")
    ax.scatter(
        rows["comparators"].to_numpy(dtype=float) * 100,
        y + 0.18,
        marker="s",
        color="#505050",
        label="Comparator group",
        zorder=3,
    )
    ax.scatter(
        rows["national"].to_numpy(dtype=float) * 100,
        y - 0.18,
        marker="D",
        color="#1f77b4",
        label="England and Wales",
        zorder=3,
    )
    _name_rows(ax, y, [textwrap.fill(label, 34) for label in rows["label"]])
    ax.set_ylim(-0.7, len(rows) - 0.3)
    # The whole scale where shares are large; where all are small, room to tell them apart.
    drawn = rows[["upper", "comparators", "national"]].to_numpy(dtype=float) * 100
    highest = np.nanmax(drawn, initial=0.0)
    ax.set_xlim(0, 100 if highest > 40 else 10 * np.ceil(highest * 1.2 / 10 + 1e-9))
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.legend(loc="upper center", bbox_to_anchor=(0.4, -0.12 - 0.25 / len(rows)), ncol=3, frameon=False)
    _label_ticks(ax, "x")
    table = pd.DataFrame(
        {
            "Measure": rows["label"].to_numpy(),
            "This force (%)": value,
            "95% interval from": rows["lower"].to_numpy(dtype=float) * 100,
            "95% interval to": rows["upper"].to_numpy(dtype=float) * 100,
            "Comparator group (%)": rows["comparators"].to_numpy(dtype=float) * 100,
            "England and Wales (%)": rows["national"].to_numpy(dtype=float) * 100,
        }
    )
    _attach_data(fig, title, table, (1,) * 5, "withheld or not shown")
    return fig


def plot_return_curves(curves: list[tuple[pd.DataFrame, str, str]]) -> matplotlib.figure.Figure:
    """Kaplan-Meier step curves of the share of episodes ended by a return, by hours since the report, first week.

    Parameters
    ----------
    curves : list of (pandas.DataFrame, str, str)
        Each curve's ``hours`` and ``returned_share`` (0 to 1), its label and its colour.

    Examples
    --------
    >>> curve = pd.DataFrame({"hours": [0, 8, 48], "returned_share": [0.0, 0.5, 0.9]})
    >>> fig = plot_return_curves([(curve, "England and Wales", "#1f77b4")])
    >>> [float(x) for x in fig.axes[0].get_xlim()]
    [0.0, 168.0]
    >>> plt.close(fig)
    """
    fig, ax = new_figure(8, 4.5)
    table = pd.DataFrame({"Hours since the report": _RETURN_HOURS})
    for (curve, label, colour), style in zip(curves, ("-", "--", ":", "-."), strict=False):
        _draw_line(
            ax,
            curve["hours"],
            curve["returned_share"] * 100,
            drawstyle="steps-post",
            color=colour,
            linestyle=style,  # the curves differ in their dashes as well as their colours
            label=label,
        )
        table[f"{label}: returned (%)"] = _step_values(curve, _RETURN_HOURS) * 100
    ax.legend()
    ax.set_title("Episodes ended by the child's return, by hours since the report (Kaplan-Meier)")
    ax.set_xlabel("Hours since the child was reported missing or absent")
    ax.set_ylabel("Returned (% of episodes)")
    ax.set_xlim(0, 168)
    ax.set_ylim(0, 100)
    _label_ticks(ax, "x")
    _label_ticks(ax, "y")
    _attach_data(fig, ax.get_title(), table, (1,) * len(curves))
    return fig


# The hours at which the table of a return-curve chart reads each curve.
_RETURN_HOURS = [1, 2, 4, 8, 12, 24, 48, 72, 96, 120, 144, 168]


def _step_values(curve: pd.DataFrame, hours: list[float]) -> np.ndarray:
    """A step curve's value at each of ``hours``: the last step at or before it, as the chart draws it."""
    steps = curve[["hours", "returned_share"]].dropna().sort_values("hours")
    at = np.searchsorted(steps["hours"].to_numpy(dtype=float), hours, side="right") - 1
    values = steps["returned_share"].to_numpy(dtype=float)
    return np.where(at >= 0, values[np.clip(at, 0, None)], np.nan) if len(values) else np.full(len(hours), np.nan)


# Text sizes of the problem-profile charts, in points: drawn 6.4 inches wide, a chart is shown at about 60% on
# a phone's 360-pixel screen, where these still read at 6 to 7 points.
_PHONE_TEXT = {"title": 13, "label": 12, "tick": 11}


def _wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.wrap(text, width)) or text


def plot_hour_weekday_heatmap(
    force: np.ndarray, national: np.ndarray, force_name: str, national_label: str
) -> matplotlib.figure.Figure:
    """Two heat maps of the share of episodes reported in each hour of each weekday: the force, then national.

    Parameters
    ----------
    force, national : numpy.ndarray
        7 x 24 shares in per cent (rows Monday to Sunday, columns the hours
        0-23 of the recorded report time). A missing share is a cell not drawn
        (withheld): it shows as hatched.
    force_name, national_label : str
        The panels' titles.

    Examples
    --------
    >>> shares = np.full((7, 24), 100 / 168)
    >>> shares[5, 23] = np.nan
    >>> fig = plot_hour_weekday_heatmap(shares, np.full((7, 24), 100 / 168), "Kent Police", "England and Wales")
    >>> [ax.get_xlabel() for ax in fig.axes[:2]]
    ['', 'Hour of the report (local time, 00 = midnight to 01:00)']
    >>> fig.axes[2].get_xlabel()
    'Share of episodes (%)'
    >>> plt.close(fig)
    """
    width, height, base, left, head, gap = 6.4, 7.0, 1.3, 0.95, 1.15, 0.6
    fig, top = new_figure(width, height, left=left, bottom=base, top=head, right=0.15)
    # Two panels of the same size, one above the other, and a colour bar under both, placed in inches.
    panel = (height - base - head - gap) / 2
    span = 1 - (left + 0.15) / width
    top.set_position([left / width, (base + panel + gap) / height, span, panel / height])
    bottom = fig.add_axes([left / width, base / height, span, panel / height], axes_class=_ChartAxes)
    bar = fig.add_axes([left / width, 0.5 / height, span, 0.16 / height])
    both = np.concatenate([np.ravel(force), np.ravel(national)])
    top_value = float(np.nanmax(both)) if np.isfinite(both).any() else 1.0
    colours = plt.get_cmap("viridis").copy()
    for ax, shares, name in ((top, force, force_name), (bottom, national, national_label)):
        # Hatching behind the cells: a withheld (missing) cell lets it show through.
        ax.add_patch(
            matplotlib.patches.Rectangle((0, 0), 24, 7, facecolor="0.92", hatch="///", edgecolor="0.6", linewidth=0)
        )
        # One image of 7 x 24 pixels, drawn as sharp blocks, rather than 168 cells each a path of its own.
        mesh = ax.imshow(
            np.ma.masked_invalid(np.asarray(shares, dtype=float)),
            cmap=colours,
            vmin=0,
            vmax=top_value,
            extent=(0, 24, 7, 0),
            aspect="auto",
            interpolation="none",  # in SVG: the 7 x 24 pixels themselves, drawn sharp
            zorder=1.1,  # over the hatching, which shows only where a cell is withheld
        )
        ax.set_xlim(0, 24)
        ax.set_ylim(7, 0)  # Monday at the top
        ax.set_title(_wrap(name, 60), fontsize=_PHONE_TEXT["label"])
        ax.set_ylabel("Weekday", fontsize=_PHONE_TEXT["tick"])
        ax.grid(False)
        weekdays = (np.arange(7) + 0.5, ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])
        _label_ticks(ax, "y", weekdays, fontsize=_PHONE_TEXT["tick"], grid=False)
        hours = (np.arange(0, 24, 3) + 0.5, [f"{h:02d}" for h in range(0, 24, 3)])
        _label_ticks(ax, "x", hours, fontsize=_PHONE_TEXT["tick"], grid=False)
    bottom.set_xlabel("Hour of the report (local time, 00 = midnight to 01:00)", fontsize=_PHONE_TEXT["tick"])
    fig.suptitle(
        "When children are reported: share of episodes\nby hour and weekday",
        fontsize=_PHONE_TEXT["title"],
        y=1 - 0.12 / height,
    )
    colourbar = fig.colorbar(mesh, cax=bar, orientation="horizontal")
    colourbar.set_label("Share of episodes (%)", fontsize=_PHONE_TEXT["tick"])
    colourbar.ax.tick_params(labelsize=_PHONE_TEXT["tick"])  # matplotlib's ticks: their marks read the scale
    fig.text(1 - 0.15 / width, 0.05 / height, "Hatched: withheld", ha="right", va="bottom", fontsize=10, color="0.3")
    days = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    table = pd.DataFrame(
        np.vstack([np.asarray(force, dtype=float), np.asarray(national, dtype=float)]),
        columns=[f"{h:02d}:00" for h in range(24)],
    )
    table.insert(0, "Weekday", [f"{name}: {day}" for name in (force_name, national_label) for day in days])
    caption = "Share of each area's episodes (%) reported in each hour (local time) of each weekday"
    _attach_data(fig, caption, table, (1,) * 24, "withheld")
    return fig


def plot_share_bars(
    rows: pd.DataFrame, title: str, xlabel: str, force_name: str, national_label: str
) -> matplotlib.figure.Figure:
    """Horizontal bars of the force's figures with 95% interval whiskers, and the national figure as a marker.

    Parameters
    ----------
    rows : pandas.DataFrame
        One row per bar, top to bottom: ``label``, ``value``, ``lower``,
        ``upper`` (the force) and ``national``, in the units of ``xlabel``. A
        missing ``value`` is a bar not drawn (withheld, or not computed): its
        label says "withheld or not shown".
    title, xlabel : str
        The chart's title, and the axis label with its units.
    force_name, national_label : str
        The legend's names of the bars and the markers.

    Examples
    --------
    >>> t = pd.DataFrame({"label": ["Home", "Foster care"], "value": [60.0, np.nan], "lower": [55.0, np.nan],
    ...                   "upper": [65.0, np.nan], "national": [55.0, 20.0]})
    >>> fig = plot_share_bars(t, "Where from", "Share of episodes (%)", "Kent Police", "England and Wales")
    >>> fig.axes[0].get_xlabel(), [label.get_text() for label in fig.axes[0].texts]
    ('Share of episodes (%)', ['Home', 'Foster care\\n(withheld or not shown)'])
    >>> plt.close(fig)
    """
    count = len(rows)
    value = rows["value"].to_numpy(dtype=float)
    drawn = np.isfinite(value)
    labels = [
        _wrap(str(label), 22) + ("" if shown else "\n(withheld or not shown)")
        for label, shown in zip(rows["label"], drawn, strict=True)
    ]
    # Each row as tall as its label's lines need, so that no two labels overlap.
    lines = max((label.count("\n") + 1 for label in labels), default=1)
    row = max(0.5, 0.21 * lines + 0.12)
    height = row * count + 2.2
    fig, ax = new_figure(6.4, height, left=2.2, bottom=1.3, top=0.8, right=0.3)
    positions = np.arange(count)
    ax.barh(positions[drawn], value[drawn], height=0.6, color="#d62728", alpha=0.85, label=force_name)
    lower = rows["lower"].to_numpy(dtype=float)
    upper = rows["upper"].to_numpy(dtype=float)
    whiskers = drawn & np.isfinite(lower) & np.isfinite(upper)
    ax.errorbar(
        value[whiskers],
        positions[whiskers],
        xerr=[value[whiskers] - lower[whiskers], upper[whiskers] - value[whiskers]],
        fmt="none",
        ecolor="0.1",
        elinewidth=1.3,
        capsize=3,
        label="95% interval",
    )
    national = rows["national"].to_numpy(dtype=float)
    ax.scatter(national, positions, marker="D", color="#1f77b4", s=36, zorder=4, label=national_label)
    _name_rows(ax, positions, labels, fontsize=_PHONE_TEXT["tick"])
    ax.set_ylim(count - 0.5, -0.5)  # the first row at the top
    ax.set_xlim(left=0)
    ax.set_title(_wrap(title, 50), fontsize=_PHONE_TEXT["title"])
    ax.set_xlabel(xlabel, fontsize=_PHONE_TEXT["label"])
    ax.set_ylabel("")
    _label_ticks(ax, "x", fontsize=_PHONE_TEXT["tick"])
    # The legend under the axis label, at a fixed height in inches, in the order the eye meets them.
    handles, names = ax.get_legend_handles_labels()
    order = [names.index(name) for name in (force_name, "95% interval", national_label) if name in names]
    fig.legend(
        [handles[i] for i in order],
        [names[i] for i in order],
        loc="lower center",
        bbox_to_anchor=(0.5, 0.08 / height),
        ncol=3,
        frameon=False,
        fontsize=10,
    )
    table = pd.DataFrame(
        {
            "": rows["label"].astype(str).to_numpy(),
            force_name: value,
            "95% interval from": lower,
            "95% interval to": upper,
            national_label: national,
        }
    )
    _attach_data(fig, f"{title} ({xlabel})", table, (1,) * 4, "withheld or not shown")
    return fig
