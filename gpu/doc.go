// Package gpu is the CUDA backend: it implements backend.Backend by launching
// the kernels of package kernels and cuBLAS matrix products through a Driver.
//
// Two drivers exist: package gpu/cuda talks to a real GPU through
// gorgonia.org/cu (build tag cuda), and package gpu/emu runs the same
// kernels/*.cu sources on the CPU, compiled as host C++, so that the whole
// backend is tested on machines without a GPU.
//
// Both drivers record graphs (Capturer): the backend's Record captures a
// sequence of its operations once, and a trainer replays its recorded step
// with one driver call instead of one per launch (CUDA graphs on a GPU; a
// list of checked operations on the emulator).
package gpu
