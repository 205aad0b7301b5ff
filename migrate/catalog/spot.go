package catalog

import (
	"math"
)

// No spot price table can be had offline: Karpenter fetches spot prices live
// (DescribeSpotPriceHistory) and ships none, and moto answers a placeholder. The
// offline spot price is therefore an estimate, a fixed fraction of the on-demand list
// price by instance category. The fractions are karpshift's assumption — roughly the
// long-run spot discount EC2 advertises for general-purpose capacity (60–70% off), a
// smaller discount for accelerated capacity, whose spot pools are thin — not a
// measurement. Live mode and --prices replace them.
const (
	spotFractionDefault     = 0.35 // 65% off on-demand
	spotFractionAccelerated = 0.45 // 55% off on-demand
)

// acceleratedCategories are the instance categories (Labels' instance-category) of GPU,
// ML-accelerator, FPGA and media types.
var acceleratedCategories = map[string]bool{
	"g": true, "gr": true, "p": true, "inf": true, "trn": true, "dl": true, "f": true, "vt": true,
}

// SpotFraction is the share of the on-demand price the offline spot estimate uses for a
// type name (0.35 general, 0.45 for accelerated categories).
func SpotFraction(name string) float64 {
	if acceleratedCategories[Category(name)] {
		return spotFractionAccelerated
	}
	return spotFractionDefault
}

// estimateSpot is the offline spot price for an on-demand price, rounded to a millionth
// of a dollar so float noise does not show in output.
func estimateSpot(name string, onDemand float64) float64 {
	if onDemand <= 0 {
		return 0
	}
	return roundPrice(onDemand * SpotFraction(name))
}

func roundPrice(p float64) float64 {
	return math.Round(p*1e6) / 1e6
}

const spotNote = "spot prices are estimates: on-demand × 0.35 (× 0.45 for accelerated categories g, gr, p, inf, trn, dl, f, vt); karpshift's assumption, not measured — use live mode or --prices for real figures"
