"""Every interval and funnel function against an independent implementation, at thousands of random inputs.

The reference tables (test_intervals.py, test_funnel.py) pin the methods to published values at a few
hundred points; these tests check the same formulas everywhere else: zero events, events equal to the
denominator, counts either side of 10 (where exact limits give way to Byar's), and counts of 100,000.
Each reference implementation here is written from the published method with scipy's distribution
functions and root-finding, not from the toolkit's own shortcuts (chi-squared quantiles, statsmodels,
closed-form inversions), and must agree to 6 significant figures.
"""

import math

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from toolkit.stats import funnel, intervals

SEED = 20240612
RTOL = 1e-6  # 6 significant figures
ATOL = 1e-12  # for limits that are 0, or nearly, in exact arithmetic
CONFIDENCES = (0.8, 0.95, 0.99, 0.998)
PHE_BANDS = ("High (0.001)", "High (0.025)", "Low (0.001)", "Low (0.025)")


def _z(confidence):
    return stats.norm.ppf(0.5 + confidence / 2)


def _solve(f, low, high):
    """The root of a monotone f between low and high, to far below 6 significant figures."""
    return optimize.brentq(f, low, high, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=500)


def _draw_counts(rng, size):
    """Counts with the awkward ones well represented: 0, 1 to 9, either side of 10, large, and 100,000."""
    return np.concatenate(
        [
            np.zeros(size // 10),
            rng.integers(1, 10, size // 5),
            rng.integers(8, 13, size // 5),  # 8 to 12: across the switch to Byar's limits at 10
            np.round(np.exp(rng.uniform(0, np.log(100_000), size - size // 10 - 3 * (size // 5) - size // 20))),
            np.full(size // 5, 100_000),
            np.full(size // 20, 99_999),
        ]
    )


def _assert_close(got, expected, rtol=RTOL, atol=ATOL):
    np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(expected, dtype=float), rtol=rtol, atol=atol)


# --- Independent reference implementations ---------------------------------------------------------


def _byar(count, confidence):
    """Byar's approximation (Breslow and Day 1987, as PHE); NaN where the lower limit is not positive."""
    o = np.asarray(count, dtype=float)
    z = _z(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        lower = np.where(o > 0, o * (1 - 1 / (9 * o) - z / (3 * np.sqrt(o))) ** 3, np.nan)
    upper = (o + 1) * (1 - 1 / (9 * (o + 1)) + z / (3 * np.sqrt(o + 1))) ** 3
    return np.where(lower >= 0, lower, np.nan), upper


def _garwood(count, confidence):
    """Exact Poisson limits (Garwood 1936), solving the Poisson distribution function for its mean.

    Lower: the mean at which P(X >= O) is alpha / 2; upper: the mean at which P(X <= O) is alpha / 2.
    """
    tail = (1 - confidence) / 2
    high = count + 50 * math.sqrt(count) + 50
    lower = 0.0 if count == 0 else _solve(lambda m: special.pdtrc(count - 1, m) - tail, 1e-300, high)
    upper = _solve(lambda m: special.pdtr(count, m) - tail, 1e-300, high)
    return lower, upper


def _phe_count_limits(count, confidence):
    """PHE's limits for a count: exact below 10 events, Byar's from 10."""
    return _garwood(count, confidence) if count < 10 else tuple(float(limit) for limit in _byar(count, confidence))


def _wilson(x, n, confidence):
    """Wilson's score interval (Wilson 1927), in closed form (Newcombe 1998, method 3)."""
    z = _z(confidence)
    p = np.asarray(x, dtype=float) / n
    centre = p + z**2 / (2 * n)
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    return (centre - half) / (1 + z**2 / n), (centre + half) / (1 + z**2 / n)


def _clopper_pearson(x, n, confidence):
    """Clopper and Pearson (1934): the proportions at which P(X >= x) and P(X <= x) are alpha / 2."""
    tail = (1 - confidence) / 2
    x, n = int(x), int(n)
    lower = 0.0 if x == 0 else _solve(lambda q: special.bdtrc(x - 1, n, q) - tail, 0, 1)
    upper = 1.0 if x == n else _solve(lambda q: special.bdtr(x, n, q) - tail, 0, 1)
    return lower, upper


def _exact_test_counts(expected, confidence):
    """The counts O on the exact Poisson test's limits at E, O continuous (Spiegelhalter 2005, appendix).

    P(X <= O | E), extended to real O, is the regularised upper incomplete gamma Q(O + 1, E) (equal to
    the Poisson distribution function at whole O), and P(X >= O | E) is P(O, E); each is solved for O.
    Where even O = 0 is not low (exp(-E) >= p) the lower limit is 0.
    """
    p = (1 - confidence) / 2
    high = expected + 50 * math.sqrt(expected) + 50
    if math.exp(-expected) >= p:
        lower = 0.0
    else:
        lower = _solve(lambda o: special.gammaincc(o + 1, expected) - p, 0, high)
    upper = _solve(lambda o: special.gammainc(o, expected) - p, 1e-300, high)
    return lower, upper


def _expected_on_limits(count, confidence):
    """The expected counts at which a whole count O lies on the exact test's limits (PHE's funnel tables).

    E with P(X <= O | E) = p (O on the lower limit), and E with P(X >= O | E) = p (0 for O = 0).
    """
    p = (1 - confidence) / 2
    high = count + 50 * math.sqrt(count) + 50
    at_lower = _solve(lambda m: special.pdtr(count, m) - p, 1e-300, high)
    at_upper = 0.0 if count == 0 else _solve(lambda m: special.pdtrc(count - 1, m) - p, 1e-300, high)
    return at_lower, at_upper


def _wilson_funnel(baseline, n, confidence):
    """PHE's proportion funnel: the proportions whose Wilson bound at denominator n just reaches the baseline.

    Found by bisection on the Wilson bound as a function of the proportion q (continuous and
    increasing), for every n at once: the lower limit is the q whose upper bound is the baseline, the
    upper limit the q whose lower bound is. Where no q in [0, 1] reaches it the limit is 0 or 1.
    """
    n = np.asarray(n, dtype=float)

    def bisect(bound, low, high):
        low, high = np.full(n.shape, float(low)), np.full(n.shape, float(high))
        for _ in range(80):  # 2^-80: past double precision
            middle = (low + high) / 2
            above = bound(middle) > baseline
            low, high = np.where(above, low, middle), np.where(above, middle, high)
        return (low + high) / 2

    lower = bisect(lambda q: _wilson(q * n, n, confidence)[1], 0, baseline)
    upper = bisect(lambda q: _wilson(q * n, n, confidence)[0], baseline, 1)
    lower = np.where(_wilson(0, n, confidence)[1] >= baseline, 0.0, lower)
    upper = np.where(_wilson(n, n, confidence)[0] <= baseline, 1.0, upper)
    return lower, upper


def _band(high_998, high_95, low_998, low_95):
    return np.select([high_998, high_95, low_998, low_95], PHE_BANDS, "Not significant")


# --- Intervals ---------------------------------------------------------------------------------------


def test_byar_limits_follow_byars_formula():
    """Byar's approximation, written out (Breslow and Day 1987, p. 69; PHEindicatormethods byars_lower/upper)."""
    rng = np.random.default_rng(SEED)
    for confidence in CONFIDENCES:
        counts = _draw_counts(rng, 1000)
        lower, upper = intervals.byar_limits(counts, confidence)
        expected_lower, expected_upper = _byar(counts, confidence)
        _assert_close(lower, expected_lower)
        _assert_close(upper, expected_upper)
        assert np.isnan(lower[counts == 0]).all()


def test_exact_and_phe_poisson_limits_solve_the_poisson_distribution():
    """Garwood's exact limits by root-finding on the Poisson CDF; PHE's switch to Byar at 10; rates scale them."""
    rng = np.random.default_rng(SEED + 1)
    for confidence in CONFIDENCES:
        counts = _draw_counts(rng, 400)
        lower, upper = intervals.exact_poisson_limits(counts, confidence)
        expected = np.array([_garwood(o, confidence) for o in counts])
        _assert_close(lower, expected[:, 0])
        _assert_close(upper, expected[:, 1])

        lower, upper, method = intervals.poisson_count_limits(counts, confidence)
        expected = np.array([_phe_count_limits(o, confidence) for o in counts])
        _assert_close(lower, expected[:, 0])
        _assert_close(upper, expected[:, 1])
        assert list(method) == ["Exact Poisson" if o < 10 else "Byar" for o in counts]

        population = np.where(rng.random(counts.size) < 0.05, 0, np.round(np.exp(rng.uniform(0, 16, counts.size))))
        multiplier = float(rng.choice([1, 100, 1000, 100_000]))
        got = intervals.rate_interval(counts, population, multiplier, confidence)
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(population > 0, multiplier / population, np.nan)
        _assert_close(got["value"], counts * scale)
        _assert_close(got["lower"], expected[:, 0] * scale)
        _assert_close(got["upper"], expected[:, 1] * scale)


def test_proportion_intervals_match_wilsons_closed_form_and_clopper_pearson():
    """Wilson (1927) in closed form; Clopper-Pearson (1934) by root-finding on the binomial CDF."""
    rng = np.random.default_rng(SEED + 2)
    for confidence in CONFIDENCES:
        n = _draw_counts(rng, 400) + 1
        x = np.floor(rng.random(n.size) * (n + 1))
        x[: n.size // 10] = 0
        x[n.size // 10 : n.size // 5] = n[n.size // 10 : n.size // 5]  # events equal to the denominator
        clopper_pearson = np.array([_clopper_pearson(a, b, confidence) for a, b in zip(x, n, strict=True)]).T
        for method, (lower, upper) in (("wilson", _wilson(x, n, confidence)), ("beta", clopper_pearson)):
            got = intervals.proportion_interval(x, n, multiplier=100, confidence=confidence, method=method)
            _assert_close(got["value"], 100 * x / n)
            _assert_close(got["lower"], 100 * lower, atol=1e-10)
            _assert_close(got["upper"], 100 * upper, atol=1e-10)


def test_mean_intervals_match_students_t():
    """mean +/- t(1 - alpha / 2, n - 1) s / sqrt(n) (Student 1908; PHEindicatormethods phe_mean)."""
    rng = np.random.default_rng(SEED + 3)
    for _ in range(400):
        size = int(rng.integers(0, 60))
        values = rng.lognormal(rng.uniform(-3, 10), rng.uniform(0.01, 2), size)
        confidence = float(rng.choice(CONFIDENCES))
        with_missing = np.insert(values, rng.integers(0, size + 1, 3), np.nan)  # missing values are left out
        got = intervals.mean_interval(with_missing, confidence).iloc[0]
        assert got["count"] == size
        if size < 2:  # no spread to estimate
            assert np.isnan([got["lower"], got["upper"]]).all() and (size == 1) == np.isfinite(got["value"])
            continue
        mean, half = values.mean(), stats.t.ppf(0.5 + confidence / 2, size - 1) * values.std(ddof=1) / math.sqrt(size)
        _assert_close([got["value"], got["lower"], got["upper"]], [mean, mean - half, mean + half])


def test_standardised_rates_follow_dobsons_method():
    """Dobson et al. (1991): DSR + sqrt(var(DSR) / O) (O_limit - O), with Byar's limits for the total O (PHE)."""
    rng = np.random.default_rng(SEED + 4)
    for _ in range(250):
        bands = int(rng.integers(1, 20))
        population = np.round(np.exp(rng.uniform(0, 14, bands)))
        count = np.minimum(rng.poisson(population * np.exp(rng.uniform(-9, 0))), population)
        if rng.random() < 0.2:
            count[:] = 0
            count[0] = int(rng.integers(8, 13))  # totals either side of the minimum of 10
        weight = rng.uniform(100, 10_000, bands)
        confidence = float(rng.choice(CONFIDENCES))
        got = intervals.standardised_rate(count, population, weight, 100_000, confidence).iloc[0]
        total = count.sum()
        if total < 10:
            assert np.isnan([got["value"], got["lower"], got["upper"]]).all()
            continue
        dsr = np.sum(weight * count / population) / weight.sum()
        variance = np.sum(weight**2 * count / population**2) / weight.sum() ** 2
        o_lower, o_upper = (float(limit) for limit in _byar(total, confidence))
        expected = [dsr, dsr + math.sqrt(variance / total) * (o_lower - total)]
        expected.append(dsr + math.sqrt(variance / total) * (o_upper - total))
        _assert_close([got["value"], got["lower"], got["upper"]], np.array(expected) * 100_000)


def test_standardised_ratios_apply_reference_rates_and_phe_count_limits():
    """Indirect standardisation: E = sum(reference rate x population); O / E with PHE's limits of O over E."""
    rng = np.random.default_rng(SEED + 5)
    for _ in range(12):
        units, strata = int(rng.integers(2, 60)), int(rng.integers(1, 8))
        population = np.round(np.exp(rng.uniform(0, 12, (units, strata))))
        count = np.minimum(rng.poisson(population * np.exp(rng.uniform(-8, -1, strata))), population)
        count[rng.random(units) < 0.1] = 0
        table = pd.DataFrame(
            {
                "unit": np.repeat([f"u{i}" for i in range(units)], strata),
                "stratum": np.tile([f"s{j}" for j in range(strata)], units),
                "count": count.ravel(),
                "population": population.ravel(),
            }
        )
        ref_count = rng.integers(0, 10_000, strata).astype(float)
        ref_population = ref_count + rng.integers(1, 1_000_000, strata)
        reference = pd.DataFrame({"stratum": [f"s{j}" for j in range(strata)], "count": ref_count,
                                  "population": ref_population})  # fmt: skip
        confidence = float(rng.choice(CONFIDENCES))
        observed = count.sum(axis=1)
        expected = (population * (ref_count / ref_population)).sum(axis=1)
        limits = np.array([_phe_count_limits(o, confidence) for o in observed])
        for options, scale in (
            ({"refvalue": 100}, 100.0),
            ({"multiplier": 1000}, ref_count.sum() / ref_population.sum() * 1000),
        ):
            got = intervals.standardised_ratio(table, reference, confidence, **options)
            _assert_close(got["observed"], observed)
            _assert_close(got["expected"], expected)
            with np.errstate(divide="ignore", invalid="ignore"):
                _assert_close(got["value"], observed / expected * scale)
                _assert_close(got["lower"], limits[:, 0] / expected * scale)
                _assert_close(got["upper"], limits[:, 1] / expected * scale)


# --- Funnels -----------------------------------------------------------------------------------------


def test_proportion_funnel_limits_invert_the_wilson_bound():
    """PHE's Wilson-inversion limits (calculate_funnel_limits), by root-finding on Wilson's bound; also in percent."""
    rng = np.random.default_rng(SEED + 6)
    for confidence in CONFIDENCES:
        n = _draw_counts(rng, 500) + 1  # denominators from 1 to 100,001
        for baseline in np.concatenate([[1e-4, 0.5, 1 - 1e-4], rng.uniform(0, 1, 4)]):
            lower, upper = funnel.proportion_funnel_limits(baseline, n, confidence)
            expected_lower, expected_upper = _wilson_funnel(baseline, n, confidence)
            _assert_close(lower, expected_lower, atol=1e-10)
            _assert_close(upper, expected_upper, atol=1e-10)
        lower, upper = funnel.funnel_limits("proportion", baseline * 100, n, confidence, multiplier=100)
        _assert_close(lower, expected_lower * 100, atol=1e-8)
        _assert_close(upper, expected_upper * 100, atol=1e-8)


def test_poisson_funnel_limits_solve_the_exact_test():
    """Ratio, rate and (unadjusted) generic limits; and the expected counts at which whole counts lie on them."""
    rng = np.random.default_rng(SEED + 7)
    for confidence in CONFIDENCES:
        expected = np.concatenate([[1e-3, 0.5, -math.log((1 - confidence) / 2) * 1.001, 100_000],
                                   np.exp(rng.uniform(math.log(0.05), math.log(100_000), 600))])  # fmt: skip
        counts = np.array([_exact_test_counts(e, confidence) for e in expected])
        lower, upper = funnel.ratio_funnel_limits(expected, confidence)
        _assert_close(lower, counts[:, 0] / expected)
        _assert_close(upper, counts[:, 1] / expected)

        rate, multiplier = float(rng.uniform(0.1, 500)), float(rng.choice([1, 1000, 100_000]))
        population = expected * multiplier / rate
        lower, upper = funnel.rate_funnel_limits(rate, population, multiplier, confidence)
        _assert_close(lower, counts[:, 0] / expected * rate)
        _assert_close(upper, counts[:, 1] / expected * rate)
        lower, upper = funnel.funnel_limits("rate", rate, population, confidence, multiplier)
        _assert_close(lower, counts[:, 0] / expected * rate)
        _assert_close(upper, counts[:, 1] / expected * rate)

        observed = _draw_counts(rng, 400)
        at_lower, at_upper = funnel.poisson_funnel_expected(observed, confidence)
        reference = np.array([_expected_on_limits(o, confidence) for o in observed])
        _assert_close(at_lower, reference[:, 0])
        _assert_close(at_upper, reference[:, 1])


def test_random_effects_funnel_limits_follow_spiegelhalter():
    """Spiegelhalter (2005): target +/- z sqrt(s^2 + tau2), arcsine-root (s^2 = 1 / 4n) or log (s^2 = 1 / E) scale."""
    rng = np.random.default_rng(SEED + 9)
    for confidence in CONFIDENCES:
        z = _z(confidence)
        n = np.concatenate([[1, 100_000], np.round(np.exp(rng.uniform(0, 11.5, 2000)))])
        tau2 = float(rng.choice([0.0, rng.uniform(0, 0.05), rng.uniform(0, 1)]))

        # A random effect only widens: where the transformed limits fall inside the exact ones (tested against
        # their own formulas above), the exact ones are drawn, so a point's place and its band agree.
        baseline = float(rng.uniform(0.001, 0.999))
        lower, upper = funnel.funnel_limits("proportion", baseline * 100, n, confidence, 100, tau2)
        exact_lower, exact_upper = funnel.funnel_limits("proportion", baseline * 100, n, confidence, 100)
        target, half = math.asin(math.sqrt(baseline)), z * np.sqrt(1 / (4 * n) + tau2)
        # Past either end of the transformed scale the limit is the end: 0% or 100%.
        _assert_close(lower, np.fmin(100 * np.sin(np.maximum(target - half, 0)) ** 2, exact_lower), atol=1e-10)
        _assert_close(
            upper, np.fmax(100 * np.sin(np.minimum(target + half, math.pi / 2)) ** 2, exact_upper), atol=1e-10
        )

        rate, multiplier = float(rng.uniform(0.1, 500)), 1000.0
        lower, upper = funnel.funnel_limits("rate", rate, n, confidence, multiplier, tau2)
        exact_lower, exact_upper = funnel.funnel_limits("rate", rate, n, confidence, multiplier)
        half = z * np.sqrt(1 / (rate * n / multiplier) + tau2)
        _assert_close(lower, np.fmin(rate * np.exp(-half), exact_lower))
        _assert_close(upper, np.fmax(rate * np.exp(half), exact_upper))


def test_a_point_is_classified_as_it_is_drawn_on_every_funnel():
    """At random over-dispersed data with zero counts: every band agrees with the value against the drawn limits.

    The widened limits for rates once lay above 0 at small populations, so a zero count was drawn below the
    lower limit while the exact test called it within (the review of #12).
    """
    rng = np.random.default_rng(SEED + 11)
    checked = 0
    for _ in range(200):
        units = int(rng.integers(6, 40))
        population = np.round(np.exp(rng.uniform(5, 13, units)))
        rate = rng.gamma(2.0, 1.0, units) * 5  # per 1,000, with a wide spread between units
        counts = rng.poisson(rate * population / 1000)
        counts[rng.random(units) < 0.2] = 0
        table = pd.DataFrame({"unit": [f"u{i}" for i in range(units)], "numerator": counts, "denominator": population})
        try:
            comparison, _ = funnel.compare_with_funnel(table, "rate", multiplier=1000, comparator_groups={})
        except ValueError:
            continue
        value = comparison["value"].to_numpy()
        drawn = np.select(
            [
                value > comparison["upper_998"],
                value > comparison["upper_95"],
                value < comparison["lower_998"],
                value < comparison["lower_95"],
            ],
            ["above_998", "above_95", "below_998", "below_95"],
            "within",
        )
        assert (drawn == comparison["band"].to_numpy()).all()
        checked += int((counts == 0).sum())
    assert checked > 100  # zero counts were among them


def _type7_quantile(values, q):
    """R's default quantile (Hyndman and Fan type 7), as FunnelPlotR winsorises with."""
    ordered = np.sort(values)
    h = (len(ordered) - 1) * q
    below = math.floor(h)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (h - below) * (ordered[above] - ordered[below])


def test_overdispersion_follows_spiegelhalter_and_the_shmi_truncation():
    """Spiegelhalter (2005): phi = mean of winsorised z^2, I phi ~ chi2(I), DerSimonian-Laird tau2; SHMI truncation.

    tau2 = (I phi - (I - 1)) / (sum w - sum w^2 / sum w) when I phi > I - 1, else 0. NHS Digital's SHMI (and
    FunnelPlotR) instead drop the units whose rank r puts floor(r k / (I + 1)) in the first or last of
    k = 1 / trim groups, and estimate phi and tau2 from the rest.
    """
    rng = np.random.default_rng(SEED + 10)
    for _ in range(500):
        units = int(rng.integers(2, 80))
        zscores = rng.normal(0, rng.uniform(0.3, 4), units)
        weights = np.exp(rng.uniform(0, 12, units))
        trim = float(rng.choice([0.05, 0.1, 0.2]))

        low, high = _type7_quantile(zscores, trim), _type7_quantile(zscores, 1 - trim)
        winsorised = np.clip(zscores, low, high)
        ranks = np.argsort(np.argsort(zscores)) + 1  # no ties among continuous draws
        groups = np.floor(ranks * round(1 / trim) / (units + 1))
        kept = (groups > 0) & (groups < round(1 / trim) - 1)
        for method, z, w in (("winsorise", winsorised, weights), ("truncate", zscores[kept], weights[kept])):
            got = funnel.estimate_overdispersion(zscores, weights, trim=trim, method=method)
            count = len(z)
            phi = np.mean(z**2)
            tau2 = max(0.0, (count * phi - (count - 1)) / (w.sum() - (w**2).sum() / w.sum()))
            assert got["units"] == units
            _assert_close([got["phi"], got["p_value"]], [phi, stats.chi2.sf(count * phi, count)], atol=1e-300)
            _assert_close(got["tau2"], tau2, atol=1e-15)
            assert got["overdispersed"] == (stats.chi2.sf(count * phi, count) < 0.05)


def test_proportion_significance_is_the_wilson_interval_against_the_baseline():
    """PHE's bands: beyond a Wilson-inversion limit exactly when the unit's Wilson interval excludes the baseline."""
    rng = np.random.default_rng(SEED + 11)
    n = _draw_counts(rng, 3000) + 1
    share = np.clip(rng.normal(0.3, 0.05, n.size), 0, 1)
    x = np.minimum(rng.binomial(n.astype(int), share), n).astype(float)
    x[:100], x[100:200] = 0, n[100:200]  # no events, and events equal to the denominator
    for baseline in (None, 0.3, 0.001, 0.999):
        got = funnel.assign_proportion_significance(x, n, baseline)
        target = x.sum() / n.sum() if baseline is None else baseline
        (lower_95, upper_95), (lower_998, upper_998) = _wilson(x, n, 0.95), _wilson(x, n, 0.998)
        expected = _band(lower_998 > target, lower_95 > target, upper_998 < target, upper_95 < target)
        np.testing.assert_array_equal(got, expected)


def test_ratio_significance_is_the_exact_poisson_test():
    """Bands by the one-sided exact tests: High when P(X >= O | E) < p, Low when P(X <= O | E) < p."""
    rng = np.random.default_rng(SEED + 12)
    observed = _draw_counts(rng, 5000)
    # About 2.5 standard errors of spread on the log scale, so that every band is well populated.
    expected = np.maximum(observed, 0.5) * np.exp(rng.normal(0, 2.5, observed.size) / np.sqrt(np.maximum(observed, 1)))
    expected[:50] = rng.uniform(0.01, 12, 50)  # zeros where exp(-E) is either side of 0.025 and 0.001
    got = funnel.assign_ratio_significance(observed, expected)
    low = {p: special.pdtr(observed, expected) < p for p in (0.025, 0.001)}
    high = {p: np.where(observed > 0, special.pdtrc(observed - 1, expected), 1) < p for p in (0.025, 0.001)}
    expected_bands = _band(high[0.001], high[0.025], low[0.001], low[0.025])
    assert (expected_bands != "Not significant").sum() > 1000
    np.testing.assert_array_equal(got, expected_bands)
