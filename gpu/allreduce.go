package gpu

import (
	"fmt"

	"github.com/vaegan-go/vaegan/backend"
)

// AllReduce replaces every tensor of ts by its element-wise sum over the
// ranks of the driver's data-parallel group, in device memory. The driver
// must be an AllReducer that has joined a group.
func (b *Backend) AllReduce(ts []backend.Tensor) error {
	r, ok := b.d.(AllReducer)
	if !ok {
		return fmt.Errorf("gpu: driver %s cannot sum device memory over ranks", b.d.Name())
	}
	spans := make([]Span, len(ts))
	for i, t := range ts {
		spans[i] = Span{ptr(t), t.Len()}
	}
	if err := r.AllReduce(spans); err != nil {
		return &Error{Op: "AllReduce", Call: fmt.Sprintf("AllReduce of %d tensors", len(ts)), Err: err}
	}
	return nil
}

// Driver is the driver the backend runs on.
func (b *Backend) Driver() Driver { return b.d }

var _ backend.AllReducer = (*Backend)(nil)
