package comm

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

// Launch is what the environment says about how this process was started:
// by mpirun (Open MPI, MPICH) or srun (Slurm), or alone.
type Launch struct {
	By              string // "mpirun", "srun" or "" (alone)
	Size, LocalRank int    // processes in the job; this one's place among those on its machine
}

// launchVars are the environment variables each launcher sets: the job's
// size and the process's local rank.
var launchVars = []struct{ by, size, local string }{
	{"mpirun", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK"},
	{"mpirun", "PMI_SIZE", "MPI_LOCALRANKID"},
	{"srun", "SLURM_NTASKS", "SLURM_LOCALID"},
}

// LaunchFromEnv reads the launcher's environment variables. A process started
// alone has Size 1.
func LaunchFromEnv() Launch {
	for _, v := range launchVars {
		n, err := strconv.Atoi(os.Getenv(v.size))
		if err != nil || n < 1 {
			continue
		}
		local, _ := strconv.Atoi(os.Getenv(v.local))
		return Launch{By: v.by, Size: n, LocalRank: local}
	}
	return Launch{Size: 1}
}

// Open returns the group kind names: "single", "mpi", or "auto" (MPI when a
// launcher started more than one process, else single).
func Open(kind string, timeout time.Duration) (Comm, error) {
	switch kind {
	case "single":
		return Single{}, nil
	case "mpi":
		return MPI(timeout)
	case "auto":
		l := LaunchFromEnv()
		if l.Size == 1 {
			return Single{}, nil
		}
		if !MPIBuilt {
			return nil, fmt.Errorf("started by %s as one of %d processes, but this binary was built without MPI support (go build -tags mpi)", l.By, l.Size)
		}
		return MPI(timeout)
	}
	return nil, fmt.Errorf("%q: want auto, single or mpi", kind)
}
