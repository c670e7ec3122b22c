package model

// The equilibrium rule's centre and default margin (Larsen et al.'s code).
const (
	equilibrium   = 0.68
	defaultMargin = 0.35
)

// equilibriumRule decides from the step's mean BCEs (r.DisReal, r.DisFake)
// whether the discriminator and the decoder are updated, as Larsen et
// al.'s code: skip the discriminator while either error is below
// equilibrium − margin (it is winning), skip the decoder while either is
// above equilibrium + margin (it is losing), and update both when both
// would be skipped.
func equilibriumRule(r *Result, margin float64) {
	if margin == 0 {
		margin = defaultMargin
	}
	if r.DisReal < equilibrium-margin || r.DisFake < equilibrium-margin {
		r.UpdateDis = false
	}
	if r.DisReal > equilibrium+margin || r.DisFake > equilibrium+margin {
		r.UpdateDec = false
	}
	if !r.UpdateDis && !r.UpdateDec {
		r.UpdateDis, r.UpdateDec = true, true
	}
}
