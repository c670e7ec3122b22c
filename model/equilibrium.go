package model

// The equilibrium rule's centre and default margin (Larsen et al.'s code).
// The rule itself (backend.Decision) runs on the device, in Decide: skip the
// discriminator while its error on real or fake images is below
// equilibrium − margin (it is winning), skip the decoder while either is
// above equilibrium + margin (it is losing), and update both when both
// would be skipped.
const (
	equilibrium   = 0.68
	defaultMargin = 0.35
)
