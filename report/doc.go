// Package report writes what the trainer produces for people to look at:
//
//   - WriteGrid: a batch of generated images (NCHW float32 in [-1, 1]) as one
//     PNG grid, gray for one channel and RGB for three.
//   - LossLog: a CSV file with one row per logged step,
//     "step,epoch,<loss names...>,images_per_sec", that a resumed run extends
//     without duplicating rows.
//   - PlotLosses: a PNG of such a CSV in panels by kind of column against
//     step.
//   - Progress: a one-line training progress display that redraws in place on
//     a terminal and prints plain lines otherwise.
//   - WriteAnimation: frames of grids as an animated GIF.
//   - WriteRunPage: a run folder's index.html.
//
// Files (grids, plots, animations, the run page) are replaced atomically: they are written to a
// temporary file in the same directory, which is then renamed over the target,
// so a reader never sees a half-written file.
package report
