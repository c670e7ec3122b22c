//go:build !mpi

package comm

import (
	"errors"
	"time"
)

// MPIBuilt says whether this binary was built with the mpi tag.
const MPIBuilt = false

// MPI fails: this binary was built without the mpi tag.
func MPI(time.Duration) (Comm, error) {
	return nil, errors.New("comm: this binary was built without MPI support (go build -tags mpi, with libopenmpi-dev installed)")
}
