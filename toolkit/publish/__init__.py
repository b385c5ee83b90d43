"""Publication: what readers see, after disclosure control, and nothing else.

What belongs here is everything that turns prepared tables and findings into
published files: the one disclosure gate (:mod:`~toolkit.publish.disclosure`),
``metrics.csv`` (:mod:`~toolkit.publish.metrics`), the HTML helpers
(:mod:`~toolkit.publish.markup`), every chart (:mod:`~toolkit.publish.plots`),
what a force report and the national overview show
(:mod:`~toolkit.publish.report`, :mod:`~toolkit.publish.overview`), the index
page (:mod:`~toolkit.publish.site`), and running notebooks into HTML
(:mod:`~toolkit.publish.render`, with warm kernels in
:mod:`~toolkit.publish.kernels`). Nothing here computes a statistic or judges a
force: it reads what the stages below prepared.
"""
