// Package quality computes sample-quality metrics for the models this
// project trains: Fréchet distance and kernel inception distance (KID)
// between feature sets, improved precision and recall (Kynkäänniemi et
// al. 2019), statistics of predicted class probabilities (class coverage,
// class entropy and an inception-score analogue), image sharpness (variance
// of the Laplacian), SSIM, MSE and label agreement.
//
// The feature-space metrics (FrechetDistance, KID, PrecisionRecall,
// Classes) are domain metrics: they are meant to be computed on the
// features and class probabilities of the project's own classifier, not of
// an ImageNet Inception network. Their values are therefore NOT comparable
// to published Inception FID, KID or Inception Score figures; compare them
// only with each other (one model against another, or a model against
// held-out real data) under the same feature extractor.
//
// Inputs are flat row-major float32 slices of n rows by d columns (images:
// n×c×h×w), as elsewhere in the project; all arithmetic is done in float64.
// Functions panic with a constant message on programmer misuse such as a
// slice length that does not match the stated shape.
package quality
