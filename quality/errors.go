package quality

// Panic messages for programmer misuse. They are constants so callers and
// tests can recognise them.
const (
	errShape      = "quality: slice length does not match the stated shape"
	errDims       = "quality: dimensions must be positive"
	errFewRows    = "quality: too few rows"
	errGaussDims  = "quality: Gaussians have mismatched dimensions"
	errKIDArgs    = "quality: KID needs subsets >= 1 and a subset size >= 2"
	errNeighbours = "quality: PrecisionRecall needs k >= 1 and more than k rows in each set"
	errImageSize  = "quality: image too small for the filter"
	errDataRange  = "quality: SSIM data range must be positive"
	errLength     = "quality: slices have different or zero lengths"
	errLabel      = "quality: label out of range"
)

// checkRows panics unless len(x) == n*d with n >= 0 and d > 0.
func checkRows(x []float32, n, d int) {
	if d <= 0 || n < 0 {
		panic(errDims)
	}
	if len(x) != n*d {
		panic(errShape)
	}
}

// toFloat64 widens x to float64.
func toFloat64(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}
