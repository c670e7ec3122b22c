// Package checkpoint reads and writes safetensors files, the tensor file format
// of Hugging Face that PyTorch users load with safetensors.torch.load_file.
//
// A file is laid out as
//
//	[8 bytes]  N, a little-endian uint64: the length of the header
//	[N bytes]  a JSON object, padded with spaces (this package pads to a multiple of 8)
//	[rest]     the byte buffer holding every tensor's data
//
// The header maps each tensor name to its description,
//
//	{"__metadata__": {"step": "1200"},
//	 "enc.conv1.weight": {"dtype": "F32", "shape": [32, 1, 4, 4], "data_offsets": [0, 2048]}}
//
// where data_offsets are [begin, end) byte offsets relative to the start of the
// buffer. The tensors tile the buffer exactly: no gaps, no overlaps, no trailing
// bytes. Data is little-endian and row-major (C order). The optional
// "__metadata__" entry maps strings to strings.
//
// Only the dtypes F32, I64 and U64 are supported; any other dtype is rejected
// with an error. Read validates the whole file and reports problems with the
// file name and the offending fact; Write replaces a file atomically.
package checkpoint
