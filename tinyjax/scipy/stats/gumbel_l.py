"""The left-skewed Gumbel distribution, for minima (jax.scipy.stats.gumbel_l)."""
from tinyjax.scipy.stats._gumbel import family

_f = family(-1)
logpdf, pdf, logcdf, cdf = _f['logpdf'], _f['pdf'], _f['logcdf'], _f['cdf']
logsf, sf, ppf = _f['logsf'], _f['sf'], _f['ppf']
