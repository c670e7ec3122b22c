package model

import (
	"fmt"
	"math"
)

// check reports the first loss that is NaN or infinite.
func (r Result) check(model string) error {
	for _, v := range []struct {
		name string
		v    float64
	}{{"KL", r.KL}, {"L_like", r.Like}, {"L_dis", r.Dis}, {"L_adv", r.Adv}} {
		if math.IsNaN(v.v) || math.IsInf(v.v, 0) {
			return fmt.Errorf("loss %s of model %s is %v", v.name, model, v.v)
		}
	}
	return nil
}

// checkGradients reports the first network whose Σg² (in the losses'
// download) is not finite, naming its first tensor holding a value that is
// NaN, infinite or too large to square in float32.
func (t *Trainer) checkGradients() error {
	for i, ps := range t.nets() {
		if ps == nil {
			continue
		}
		s := float64(t.lossesHost[gradSumSq+i])
		if !math.IsNaN(s) && !math.IsInf(s, 0) {
			continue
		}
		g := make([]float32, ps.Size())
		t.B.Download(g, ps.G)
		off := 0
		for _, p := range ps.Params {
			n := shapeLen(p.Shape)
			for j, v := range g[off : off+n] {
				if a := math.Abs(float64(v)); math.IsNaN(a) || a > maxSquarable {
					return fmt.Errorf("the %s's gradient is not finite (Σg² = %v): first in %s, element %d = %v",
						netTitles[i], s, p.Name, j, v)
				}
			}
			off += n
		}
		return fmt.Errorf("the %s's gradient is not finite (Σg² = %v): its elements are finite, their sum of squares overflows", netTitles[i], s)
	}
	return nil
}

// maxSquarable is about the largest magnitude whose square is a finite float32.
const maxSquarable = 1.8446744e19 // √MaxFloat32
