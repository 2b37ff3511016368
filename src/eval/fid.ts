/**
 * Fréchet Inception Distance and Inception Score over features and class
 * probabilities from any feature network (src/eval/feature_net.ts).
 *
 * FID — Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule
 * Converge to a Local Nash Equilibrium", arXiv:1706.08500 — is the Fréchet
 * (2-Wasserstein) distance between Gaussians fitted to two feature sets:
 *
 *   d² = |μ1 − μ2|² + Tr(Σ1) + Tr(Σ2) − 2 Tr((Σ1 Σ2)^½)
 *
 * (Dowson & Landau 1982). The statistics follow pytorch-fid
 * (github.com/mseitzer/pytorch-fid): the mean, and the unbiased covariance of
 * np.cov(rowvar=False), both accumulated in float64.
 *
 * IS — Salimans et al. 2016, "Improved Techniques for Training GANs",
 * arXiv:1606.03498 — is exp(E_x KL(p(y|x) ‖ p(y))), computed per split of the
 * samples and reported as mean and (population) standard deviation over the
 * splits, as in the authors' code (openai/improved-gan, inception_score.py).
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';

/** A Gaussian fitted to n feature vectors of dimension d. */
export interface GaussianStats {
  n: number;
  d: number;
  mean: Float64Array;
  /** d*d, row-major, unbiased (divided by n − 1). */
  cov: Float64Array;
}

function checkShape(data: ArrayLike<number>, n: number, d: number, what: string, minN: number): void {
  if (!Number.isInteger(n) || n < minN || !Number.isInteger(d) || d < 1) {
    throw new Error(`Expected ${what} to have n ≥ ${minN} rows and d ≥ 1 columns (whole numbers), but got n = ${n}, d = ${d}`);
  }
  if (data.length !== n * d) {
    throw new Error(`Expected ${what} to hold n*d = ${n}*${d} = ${n * d} values, but got ${data.length}`);
  }
}

/** Mean and unbiased covariance of `features` ([n, d], row-major), in float64. */
export function featureStats(features: Float32Array, n: number, d: number): GaussianStats {
  checkShape(features, n, d, 'the features of featureStats', 2);
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += features[i * d + j];
  for (let j = 0; j < d; j++) mean[j] /= n;
  // Σ = Xcᵀ Xc / (n − 1) on the centred rows; only the upper triangle is summed.
  const cov = new Float64Array(d * d);
  const row = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) row[j] = features[i * d + j] - mean[j];
    for (let a = 0; a < d; a++) {
      const ra = row[a];
      if (ra === 0) continue;
      const base = a * d;
      for (let b = a; b < d; b++) cov[base + b] += ra * row[b];
    }
  }
  for (let a = 0; a < d; a++) {
    for (let b = a; b < d; b++) {
      const v = cov[a * d + b] / (n - 1);
      cov[a * d + b] = v;
      cov[b * d + a] = v;
    }
  }
  return { n, d, mean, cov };
}

function toMatrix(flat: Float64Array, d: number): Matrix {
  return new Matrix(Array.from({ length: d }, (_, i) => Array.from(flat.subarray(i * d, (i + 1) * d))));
}

/** (M + Mᵀ) / 2, so that rounding never breaks the symmetry the eigensolver assumes. */
function symmetrised(m: Matrix): Matrix {
  return m.clone().add(m.transpose()).mul(0.5);
}

/**
 * Eigenvalues of a symmetric positive semi-definite matrix (ml-matrix's
 * symmetric eigendecomposition, i.e. Householder tridiagonalisation + QL),
 * with the tiny negative ones that rounding produces clamped to 0.
 */
function psdEigen(m: Matrix): { values: number[]; vectors: Matrix } {
  const evd = new EigenvalueDecomposition(symmetrised(m), { assumeSymmetric: true });
  return { values: evd.realEigenvalues.map((v) => Math.max(v, 0)), vectors: evd.eigenvectorMatrix };
}

/**
 * Tr((Σ1 Σ2)^½). Σ1 Σ2 is similar to M = Σ1^½ Σ2 Σ1^½ (conjugate by Σ1^½),
 * which is symmetric PSD, so the trace is Σ √λ_i(M) over M's real,
 * non-negative eigenvalues: no complex square roots and no iterative sqrtm
 * (pytorch-fid's scipy.linalg.sqrtm route needs an ε-offset retry when the
 * product is near singular; this one does not). With Σ1 = V Λ Vᵀ, M is in
 * turn similar (by V) to Λ^½ (Vᵀ Σ2 V) Λ^½, whose eigenvalues are taken:
 * two eigendecompositions and two matrix products in float64.
 */
export function traceSqrtProduct(cov1: Float64Array, cov2: Float64Array, d: number): number {
  const { values, vectors } = psdEigen(toMatrix(cov1, d));
  const root = values.map(Math.sqrt);
  const m = vectors.transpose().mmul(toMatrix(cov2, d)).mmul(vectors);  // Vᵀ Σ2 V
  m.mulColumnVector(root).mulRowVector(root);  // Λ^½ (Vᵀ Σ2 V) Λ^½
  return psdEigen(m).values.reduce((sum, v) => sum + Math.sqrt(v), 0);
}

function checkStats(s: GaussianStats, what: string): void {
  if (s.mean.length !== s.d || s.cov.length !== s.d * s.d) {
    throw new Error(`Expected ${what} to have a mean of ${s.d} and a covariance of ${s.d * s.d} values, ` +
      `but got ${s.mean.length} and ${s.cov.length}`);
  }
}

/**
 * The Fréchet distance between the Gaussians `a` and `b` (FID when they are
 * Inception features). Exact arithmetic gives d² ≥ 0; the result is clamped
 * at 0 only to absorb rounding (e.g. a set against itself can give −1e-12).
 */
export function frechetDistance(a: GaussianStats, b: GaussianStats): number {
  checkStats(a, 'the first GaussianStats');
  checkStats(b, 'the second GaussianStats');
  if (a.d !== b.d) {
    throw new Error(`Expected two GaussianStats of the same dimension, but got d = ${a.d} and d = ${b.d}`);
  }
  const d = a.d;
  let meanTerm = 0, trace = 0;
  for (let j = 0; j < d; j++) {
    meanTerm += (a.mean[j] - b.mean[j]) ** 2;
    trace += a.cov[j * d + j] + b.cov[j * d + j];
  }
  return Math.max(0, meanTerm + trace - 2 * traceSqrtProduct(a.cov, b.cov, d));
}

/**
 * Inception Score of `probs` ([n, k] row-major, rows of p(y|x) summing to 1):
 * the samples are cut into `splits` consecutive parts (part i is rows
 * ⌊i·n/splits⌋ … ⌊(i+1)·n/splits⌋ − 1, as in the reference code), and each
 * part scores exp(mean_x KL(p(y|x) ‖ p̂(y))) with p̂(y) the part's mean
 * prediction. Terms with p(y|x) = 0 count 0 (the limit of p log p). With
 * n < splits one split is used. Ranges from 1 (all predictions equal) to k
 * (confident predictions spread evenly over all k classes).
 */
export function inceptionScore(probs: Float32Array, n: number, k: number, splits = 10): { mean: number; std: number } {
  checkShape(probs, n, k, 'the probabilities of inceptionScore', 1);
  if (!Number.isInteger(splits) || splits < 1) throw new Error(`Expected splits to be a whole number ≥ 1, but got ${splits}`);
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let j = 0; j < k; j++) {
      const p = probs[i * k + j];
      if (!(p >= 0)) throw new Error(`Expected probabilities ≥ 0 in inceptionScore, but got ${p} at row ${i}, column ${j}`);
      sum += p;
    }
    if (Math.abs(sum - 1) > 1e-3) throw new Error(`Expected every row of probabilities to sum to 1, but row ${i} sums to ${sum}`);
  }
  const parts = n < splits ? 1 : splits;
  const scores: number[] = [];
  for (let s = 0; s < parts; s++) {
    const lo = Math.floor(s * n / parts), hi = Math.floor((s + 1) * n / parts);
    const marginal = new Float64Array(k);
    for (let i = lo; i < hi; i++) for (let j = 0; j < k; j++) marginal[j] += probs[i * k + j];
    for (let j = 0; j < k; j++) marginal[j] /= hi - lo;
    let kl = 0;
    for (let i = lo; i < hi; i++) {
      for (let j = 0; j < k; j++) {
        const p = probs[i * k + j];
        if (p > 0) kl += p * (Math.log(p) - Math.log(marginal[j]));
      }
    }
    scores.push(Math.exp(kl / (hi - lo)));
  }
  const mean = scores.reduce((a, b) => a + b, 0) / parts;
  const std = Math.sqrt(scores.reduce((a, b) => a + (b - mean) ** 2, 0) / parts);
  return { mean, std };
}
