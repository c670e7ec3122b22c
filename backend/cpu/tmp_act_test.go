package cpu

import (
	"math/rand/v2"
	"testing"

	"github.com/vaegan-go/vaegan/backend"
)

func BenchmarkTmpAct(bm *testing.B) {
	for _, th := range []int{1, 2} {
		b := newBackend(th, false)
		r := rand.New(rand.NewPCG(1, 2))
		y, dy := randomTensor(b, r, 1204224), randomTensor(b, r, 1204224)
		dx := b.New(1204224)
		bm.Run("fwd", func(bm *testing.B) {
			for bm.Loop() {
				b.ActForward(backend.LeakyReLU, y, dx, 0.2)
			}
		})
		bm.Run("bwd", func(bm *testing.B) {
			for bm.Loop() {
				b.ActBackward(backend.LeakyReLU, y, dy, dx, 0.2)
			}
		})
		bm.Run("bwdinplace", func(bm *testing.B) {
			for bm.Loop() {
				b.ActBackward(backend.LeakyReLU, y, dy, dy, 0.2)
			}
		})
	}
}
