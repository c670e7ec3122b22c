// Package backendtest is the conformance suite every backend.Backend runs:
// Run checks each operation against plain float64 reference implementations
// (direct nested loops, no im2col, no shared code with any backend) on seeded
// random inputs of many shapes, odd and empty ones included.
//
// The references' own backward passes are checked against central finite
// differences of their forward passes in this package's tests, so a backend
// that agrees with the references computes correct gradients.
//
// Every tensor the suite hands a backend is a view at a nonzero offset into a
// larger buffer whose other elements hold a sentinel value; the suite checks
// that no operation writes outside its views.
package backendtest
