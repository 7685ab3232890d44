"""Sequential testing: group-sequential designs, always-valid inference and Wald's SPRT."""

from abkit.sequential.group import (
    GroupSequentialAnalysis,
    GroupSequentialDesign,
    GroupSequentialSampleSize,
    WangTsiatisDesign,
    peeking_type1_error,
    wang_tsiatis,
)
from abkit.sequential.spending import (
    hsd_spending,
    obrien_fleming_spending,
    pocock_spending,
    power_spending,
    spending_function,
)
