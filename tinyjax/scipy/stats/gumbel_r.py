"""The right-skewed Gumbel distribution, for maxima (jax.scipy.stats.gumbel_r)."""
from tinyjax.scipy.stats._gumbel import family

_f = family(1)
logpdf, pdf, logcdf, cdf = _f['logpdf'], _f['pdf'], _f['logcdf'], _f['cdf']
logsf, sf, ppf = _f['logsf'], _f['sf'], _f['ppf']
