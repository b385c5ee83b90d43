"""Charts: what they draw, and that drawing them costs no more than it must."""

import collections
import io
import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.axes
import matplotlib.image
import matplotlib.patches
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import seaborn as sns

from toolkit.publish import plots

AREAS = ["This force", "Comparator group", "England and Wales"]
GRADES = ["No apparent risk (absent)", "Low", "Medium", "High"]


@pytest.fixture
def theme():
    """The reports' theme (set by the funnel plot, their first chart), undone afterwards."""
    with plt.rc_context():
        sns.set_theme(style="whitegrid", context="notebook")
        yield


def _pixels(fig) -> np.ndarray:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    buffer.seek(0)
    return matplotlib.image.imread(buffer)


def _drawn_in_svg(fig) -> collections.Counter:
    """What an SVG draws, whatever the order and ids of its elements: texts where they are, paths, markers."""
    svg = re.sub(r'(id|clip-path|xlink:href)="[^"]*"', "", _svg(fig).decode())
    return collections.Counter(re.findall(r"<text[^>]*>[^<]*</text>|<path [^>]*>|<use [^>]*>", svg, re.S))


def _grade_mix_as_seaborn_drew_it(shares: pd.DataFrame) -> matplotlib.figure.Figure:
    fig, ax = plots.new_figure(8, 4)
    palette = ["#d62728", "#7f7f7f", "#1f77b4"]
    sns.barplot(data=shares, x="grade", y="share", hue="where", hue_order=AREAS, order=GRADES, palette=palette, ax=ax)
    # Each area's bars hatched as well as coloured, so that colour is not all that tells them apart (#17).
    hatches = ["", "//", ".."]
    for container, hatch in zip(ax.containers, hatches, strict=True):
        for bar in container:
            bar.set_hatch(hatch)
            bar.set_edgecolor("white")
    ax.set_title("Grades")
    ax.set_xlabel("First risk grade")
    ax.set_ylabel("Share of graded episodes (%)")
    colours = sns.color_palette(palette, desat=0.75)
    keys = [
        matplotlib.patches.Rectangle((0, 0), 0, 0, facecolor=c, hatch=h, edgecolor="white", label=a)
        for a, c, h in zip(AREAS, colours, hatches, strict=True)
    ]
    ax.legend(handles=keys, title=None)
    return fig


def _force_effects_as_seaborn_drew_them(effects: pd.DataFrame, highlight: str) -> matplotlib.figure.Figure:
    data = effects.sort_values("value").reset_index(drop=True)
    mine = (data["force_code"] == highlight).to_numpy()
    fig, ax = plots.new_figure(8, max(3.0, 0.22 * len(data) + 1.3), left=1.6, top=0.7)
    positions = np.arange(len(data))
    for selected, colour in ((~mine, "0.45"), (mine, "#d62728")):
        spread = [
            data.loc[selected, "value"] - data.loc[selected, "lower"],
            data.loc[selected, "upper"] - data.loc[selected, "value"],
        ]
        ax.errorbar(
            data.loc[selected, "value"], positions[selected], xerr=spread, fmt="none", ecolor=colour, elinewidth=1.2
        )
    hue = np.where(mine, "This force", "Other forces")
    palette = {"This force": "#d62728", "Other forces": "0.45"}
    sns.scatterplot(x=data["value"], y=positions, hue=hue, palette=palette, ax=ax, zorder=3)
    ax.axvline(1.0, color="0.2", linestyle="--", linewidth=1, label="Average force")
    ax.set_xscale("log")
    plots.label_log_axis(ax.xaxis, (1, 2, 5))
    ax.set_yticks(positions, data["force_code"], fontsize=9)  # no text under 9 pt: 12 px at full size (#17)
    for label, highlighted in zip(ax.get_yticklabels(), mine, strict=True):
        label.set_fontweight("bold" if highlighted else "normal")  # the force marked by more than its colour
    ax.set_title("Grading")
    ax.set_xlabel("Odds ratio")
    ax.set_ylabel("Force")
    ax.legend(loc="lower right", fontsize=9)
    return fig


def test_the_grade_mix_draws_what_seaborn_drew_with_a_withheld_bar_and_an_area_without_bars(theme):
    """Seaborn's bars cost a report more than all it draws; the chart is drawn as they were, pixel for pixel."""
    shares = pd.DataFrame(
        {
            "grade": GRADES * 2,
            "where": ["This force"] * 4 + ["England and Wales"] * 4,  # no comparator group
            "share": [10.0, np.nan, 50.0, 25.0, 12.0, 48.0, 30.0, 10.0],  # one withheld
        }
    )
    drawn = _pixels(plots.plot_grade_mix(shares, GRADES, AREAS, "Grades"))
    assert np.array_equal(drawn, _pixels(_grade_mix_as_seaborn_drew_it(shares)))


def test_the_force_effects_and_trend_draw_what_seaborn_drew(theme):
    effects = pd.DataFrame(
        {"force_code": list("abcde"), "value": [0.5, 0.8, 1.0, 1.4, 2.2], "lower": [0.3, 0.6, 0.8, 1.1, 1.6]}
    ).assign(upper=lambda t: t["value"] * 1.3)
    fig = plots.plot_force_effects(effects, "c", "Grading", "Odds ratio")
    # The force names are texts rather than tick labels: the same texts, marks and grid lines in the SVG the
    # report embeds (the axis label placed by the SVG renderer's measure of the names).
    assert _drawn_in_svg(fig) == _drawn_in_svg(_force_effects_as_seaborn_drew_them(effects, "c"))

    months = pd.Series(pd.date_range("2024-01-01", periods=6, freq="MS"))
    episodes = pd.Series([10.0, 12.0, np.nan, 9.0, 14.0, 11.0])  # a withheld month: the line joins across it
    fig = plots.plot_monthly_trend(months, episodes, episodes.interpolate(), "Kent Police")
    seaborn, ax = plots.new_figure(8, 4, bottom=0.9)
    sns.lineplot(x=months, y=episodes, marker="o", color="0.3", label="Episodes reported", ax=ax, estimator=None)
    sns.lineplot(x=months, y=episodes.interpolate(), color="#d62728", label="Fitted trend", ax=ax, estimator=None)
    ax.set_title("Kent Police: missing and absent episodes per month")
    ax.set_xlabel("Month reported")
    ax.set_ylabel("Episodes per month")
    ax.set_ylim(bottom=0)
    seaborn.autofmt_xdate(bottom=0.9 / 4)
    assert np.array_equal(_pixels(fig), _pixels(seaborn))


def test_a_log_axis_makes_no_minor_ticks_the_theme_would_not_draw(theme):
    """Each tick is an artist made and drawn at every save; a log axis made some twenty that drew nothing."""
    effects = pd.DataFrame({"force_code": ["a", "b"], "value": [0.2, 20.0], "lower": [0.1, 10.0], "upper": [0.4, 40.0]})
    fig = plots.plot_force_effects(effects, "b", "Grading", "Odds ratio")
    _pixels(fig)
    assert len(fig.axes[0].xaxis.get_minorticklocs()) == 0
    assert {"0.2", "1", "20"} <= {t.get_text() for t in fig.axes[0].texts}  # the major ticks' labels stay


def _svg(fig) -> bytes:
    buffer = io.BytesIO()
    with plt.rc_context({"svg.fonttype": "none", "svg.hashsalt": "toolkit"}):  # as reports embed them
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    plt.close(fig)
    return buffer.getvalue()


def _shares_chart() -> matplotlib.figure.Figure:
    rows = pd.DataFrame(
        {"label": ["Reviewed in time", "Interviewed"], "value": [0.6, 0.3], "lower": [0.55, 0.2], "upper": [0.65, 0.4]}
    ).assign(comparators=[0.7, 0.4], national=[0.8, 0.5])
    return plots.plot_shares_against(rows, "Supervision", "Share of episodes (%)")


def test_a_text_measured_for_one_chart_is_not_measured_again_for_the_next(theme, monkeypatch):
    """Each chart had a new renderer, which measured every label again (FreeType's text shaping, up to a
    millisecond a label): a quarter of a report's drawing time. The SVG is matplotlib's, byte for byte."""
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.textpath import TextToPath

    measured = []
    measure = TextToPath.get_text_width_height_descent
    monkeypatch.setattr(
        TextToPath, "get_text_width_height_descent", lambda self, *a: measured.append(a[0]) or measure(self, *a)
    )
    plots._measure_text.cache_clear()
    first = _svg(_shares_chart())
    count = len(measured)
    assert count > 10 and "Reviewed in time" in measured
    assert _svg(_shares_chart()) == first
    assert len(measured) == count  # the second chart's labels were all measured for the first

    stock = _shares_chart()
    FigureCanvasSVG(stock)  # matplotlib's own SVG canvas and renderer
    assert _svg(stock) == first
    assert len(measured) > count  # which measured them all again


def test_a_fonts_line_height_is_read_from_its_file_once_not_once_a_text(theme, monkeypatch):
    """Laying out a text finds its font's file and reads two of its tables for the line height, for every
    text drawn or measured: the renderer reads them once a font. The SVG is matplotlib's, byte for byte."""
    import matplotlib.text
    from matplotlib.backends.backend_svg import FigureCanvasSVG

    opened = []
    get_font = matplotlib.text.get_font
    monkeypatch.setattr(matplotlib.text, "get_font", lambda *a, **k: opened.append(a) or get_font(*a, **k))
    plots._font_height_metrics.cache_clear()
    first = _svg(_shares_chart())
    assert _svg(_shares_chart()) == first
    assert opened == [] and plots._font_height_metrics.cache_info().misses <= 3  # a font or two, a size or two

    stock = _shares_chart()
    FigureCanvasSVG(stock)  # matplotlib's own SVG canvas and renderer
    assert _svg(stock) == first
    assert len(opened) > 10  # which read a font file's tables for each text


def test_the_rows_of_a_caterpillar_are_named_without_a_tick_each(theme):
    """A tick is five artists made one by one: 43 of them cost a caterpillar plot more than all else it draws."""
    effects = pd.DataFrame({"force_code": list("abc"), "value": [0.5, 1.0, 2.0], "lower": [0.4, 0.8, 1.5]})
    fig = plots.plot_force_effects(effects.assign(upper=[0.6, 1.2, 2.5]), "b", "Grading", "Odds ratio")
    ax = fig.axes[0]
    assert len(ax.get_yticks()) == 0
    assert [t.get_text() for t in ax.texts][:3] == ["a", "b", "c"] and ax.get_ylabel() == "Force"
    plt.close(fig)


def test_no_chart_draws_a_tick(theme):
    """An empty chart cost five times as much to save with its axes' ticks (five artists each, made one by one at
    every save) as without: each axis's labels are texts at the ticks' places, its grid lines one collection.
    And no tick is made for an axis with a label: matplotlib made each a major and a minor tick as it built the axes."""
    for name, fig in _every_chart().items():
        axes = fig.axes[:2] if name == "hours" else fig.axes  # the heat map's colour bar keeps its tick marks
        labels = {ax: [t.get_text() for t in ax.texts] for ax in axes}
        _svg(fig)
        for ax in axes:
            for axis in (ax.xaxis, ax.yaxis):
                assert len(axis.get_majorticklocs()) == 0, name
                if not axis._autolabelpos:  # its label placed clear of its texts (an unlabelled one asks its spine)
                    assert not vars(axis).get("majorTicks") and not vars(axis).get("minorTicks"), name  # none made
        assert all(labels.values()), name  # each axis labelled all the same
    assert {"Home", "0", "20", "40", "60"} <= set(labels[axes[0]])  # the bar chart: its rows and its share axis


def test_every_chart_draws_what_matplotlibs_own_axes_draw_with_their_ticks(theme, monkeypatch):
    """Axes that make no tick until one is drawn (plots._ChartAxes) draw every chart byte for byte as before."""
    ours = {name: _svg(fig) for name, fig in _every_chart().items()}
    monkeypatch.setattr(plots, "_ChartAxes", matplotlib.axes.Axes)
    assert {name: _svg(fig) for name, fig in _every_chart().items()} == ours


def test_a_tick_made_later_is_styled_and_clipped_as_matplotlib_makes_it(theme):
    fig, ax = plots.new_figure(4, 3)
    stock = fig.add_axes(ax.get_position(), axes_class=matplotlib.axes.Axes)
    for axes in (ax, stock):
        axes.tick_params(axis="y", labelsize=7)
        axes.set_yticks([0.25, 0.75])
    ours, theirs = ax.yaxis.get_major_ticks(), stock.yaxis.get_major_ticks()
    assert len(ours) == len(theirs) == 2
    for mine, its in zip(ours, theirs, strict=True):
        assert mine.label1.get_fontsize() == its.label1.get_fontsize() == 7
        assert mine.gridline.get_clip_box().bounds == its.gridline.get_clip_box().bounds
    plt.close(fig)


def _every_chart() -> dict[str, matplotlib.figure.Figure]:
    """One of each chart the pages draw, on small data with a figure missing (withheld) where a chart has one."""
    months = pd.Series(pd.date_range("2024-01-01", periods=3, freq="MS"))
    effects = pd.DataFrame({"force_code": ["a", "b"], "value": [0.8, 1.5], "lower": [0.6, 1.1], "upper": [1.1, 2.0]})
    bars = pd.DataFrame({"label": ["Home", "Foster care"], "value": [60.0, np.nan], "lower": [55.0, np.nan]}).assign(
        upper=[65.0, np.nan], national=[55.0, 20.0]
    )
    comparison = pd.DataFrame({"unit": ["a", "b", "c"], "denominator": [1e4, 5e4, 2e5], "value": [3.0, 2.5, 2.8]})
    hours = np.full((7, 24), 100 / 168)
    hours[5, 23] = np.nan
    curve = pd.DataFrame({"hours": [0, 8, 48], "returned_share": [0.0, 0.5, 0.9]})
    return {
        "funnel": plots.plot_funnel(
            comparison,
            {"baseline": 2.7, "tau2": 0.0, "adjusted": False},
            "b",
            "rate",
            "Rates",
            "Children",
            "Rate",
            multiplier=1000,
            labels={"a": "Kent Police", "b": "Essex Police", "c": "Surrey Police"},
        ),
        "effects": plots.plot_force_effects(effects, "b", "Grading", "Odds ratio", {"a": "Kent", "b": "Essex"}),
        "trend": plots.plot_monthly_trend(months, pd.Series([10.0, np.nan, 12.0]), None, "Kent"),
        "grades": plots.plot_grade_mix(
            pd.DataFrame({"grade": GRADES, "where": ["This force"] * 4, "share": [10.0, np.nan, 60.0, 30.0]}),
            GRADES,
            AREAS,
            "Grades",
        ),
        "shares": _shares_chart(),
        "returns": plots.plot_return_curves([(curve, "Kent", "#1f77b4")]),
        "hours": plots.plot_hour_weekday_heatmap(hours, np.full((7, 24), 100 / 168), "Kent", "England and Wales"),
        "bars": plots.plot_share_bars(bars, "Where from", "Share (%)", "Kent", "England and Wales"),
    }


def test_every_chart_carries_the_figures_it_draws_and_no_text_under_9_points(theme):
    """A reader who cannot see a chart reads its figures in a table (#17): the same numbers the chart draws, a
    withheld one missing, never made up. At 9 points a chart's text is 12 pixels at its full size on a page."""
    charts = _every_chart()
    tables = {name: plots.chart_data(fig) for name, fig in charts.items()}
    for name, fig in charts.items():
        data = tables[name]
        assert data.caption and len(data.table) and len(data.decimals) == data.table.shape[1] - 1, name
        sizes = [float(s) for s in re.findall(rb"font(?:-size)?:\s*([0-9.]+)px", _svg(fig))]
        assert sizes and min(sizes) >= 9, (name, min(sizes))
    funnel = tables["funnel"].table
    assert funnel["Force"].tolist() == ["Essex Police", "Kent Police", "Surrey Police"]
    assert funnel["Rate"].tolist() == [2.5, 3.0, 2.8]
    assert tables["trend"].table["Episodes reported"].isna().tolist() == [False, True, False]  # withheld: missing
    grades = tables["grades"].table
    assert grades.columns.tolist() == ["First risk grade", *(f"{area} (%)" for area in AREAS)]
    assert grades["This force (%)"].isna().tolist() == [False, True, False, False]
    returns = tables["returns"].table.set_index("Hours since the report")["Kent: returned (%)"]
    assert (returns[1], returns[8], returns[24], returns[168]) == (0.0, 50.0, 50.0, 90.0)  # the steps as drawn
    hours = tables["hours"].table
    assert hours.shape == (14, 25) and np.isnan(hours.iloc[5]["23:00"])  # Saturday 23:00 withheld
    assert tables["effects"].table["Force"].tolist() == ["Essex", "Kent"]  # top to bottom, as drawn
    with pytest.raises(ValueError, match="draw it with toolkit.publish.plots"):
        plots.chart_data(plt.figure())
    plt.close("all")
