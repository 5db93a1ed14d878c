/**
 * Ordinary and weighted least squares on a small dense design matrix.
 *
 * `y = X·β + ε`, solved by a Householder QR decomposition of `√W·X` (ml-matrix), which is
 * numerically stable where the normal equations are not. A rank-deficient design (a column that
 * is all zero, two identical indicator columns) falls back to the SVD and returns the
 * minimum-norm solution, as statsmodels' default `pinv` does.
 */
import { Matrix, QrDecomposition, SingularValueDecomposition, pseudoInverse } from 'ml-matrix';

/** Options of {@link leastSquares}. */
export interface LeastSquaresOptions {
  /**
   * Weights (≥ 0, one per observation) for weighted least squares: minimises `Σ wᵢ·(yᵢ − ŷᵢ)²`.
   * Omit for ordinary least squares. Observations with weight 0 take no part in the fit.
   */
  readonly weights?: ArrayLike<number>;
  /**
   * Whether the design has an intercept column (a column of ones); it decides how R² is
   * centred (statsmodels' `k_constant`). Default: detected (a column whose values all equal 1).
   */
  readonly hasIntercept?: boolean;
}

/** Result of {@link leastSquares}. Sums of squares are weighted when weights were given. */
export interface LeastSquaresResult {
  /** β, one per column of X, in the columns' order. */
  readonly coefficients: readonly number[];
  /** Standard errors of β: `sqrt(diag((XᵀWX)⁻¹)·σ²)`, σ² = SSR/(n − rank). NaN when n ≤ rank. */
  readonly standardErrors: readonly number[];
  /** ŷ = X·β per observation. */
  readonly fitted: readonly number[];
  /** y − ŷ per observation (unweighted). */
  readonly residuals: readonly number[];
  /** Observations (rows of X). */
  readonly n: number;
  /** Columns of X. */
  readonly p: number;
  /** Numerical rank of √W·X (= p unless the design is rank-deficient). */
  readonly rank: number;
  /** Residual degrees of freedom, n − rank. */
  readonly dfResidual: number;
  /** Σ wᵢ·(yᵢ − ŷᵢ)². */
  readonly ssr: number;
  /** Σ wᵢ·(yᵢ − ȳ_w)² with the weighted mean ȳ_w when the model has an intercept, else Σ wᵢ·yᵢ². */
  readonly sst: number;
  /** 1 − SSR/SST (statsmodels `rsquared`). */
  readonly r2: number;
  /** 1 − (1 − R²)·(n − k)/(n − rank), k = 1 with an intercept, else 0 (CalTRACK 3.4.3.3.1). */
  readonly r2Adjusted: number;
}

/** Relative size under which a diagonal entry of R counts as zero (rank detection). */
const RANK_TOLERANCE = 1e-10;

/**
 * Fits `y ≈ X·β` by (weighted) least squares.
 *
 * @param X design matrix, n rows × p columns (row-major arrays or an ml-matrix `Matrix`).
 * @param y observations, length n.
 * @throws RangeError when the shapes disagree, X is empty, or a weight is negative or not finite.
 * @example leastSquares([[1, 0], [1, 1], [1, 2]], [1, 3, 5]).coefficients // [1, 2]
 */
export function leastSquares(
  X: readonly (readonly number[])[] | Matrix,
  y: ArrayLike<number>,
  options: LeastSquaresOptions = {},
): LeastSquaresResult {
  const design = X instanceof Matrix ? X : new Matrix(X.map((row) => [...row]));
  const n = design.rows;
  const p = design.columns;
  if (n === 0 || p === 0) throw new RangeError('least squares needs at least one row and one column');
  if (y.length !== n) throw new RangeError(`y has ${y.length} values, X has ${n} rows`);
  const w = options.weights;
  if (w !== undefined) {
    if (w.length !== n) throw new RangeError(`weights has ${w.length} values, X has ${n} rows`);
    for (let i = 0; i < n; i++) {
      const wi = w[i]!;
      if (!(wi >= 0) || !Number.isFinite(wi)) throw new RangeError(`weight ${i} is ${wi}`);
    }
  }
  const hasIntercept = options.hasIntercept ?? detectIntercept(design);

  // Scaling rows by √w turns WLS into OLS on the scaled system.
  const scaled = new Matrix(n, p);
  const yScaled = new Matrix(n, 1);
  for (let i = 0; i < n; i++) {
    const s = w === undefined ? 1 : Math.sqrt(w[i]!);
    for (let j = 0; j < p; j++) scaled.set(i, j, design.get(i, j) * s);
    yScaled.set(i, 0, y[i]! * s);
  }

  let beta: Matrix;
  let rank = p;
  let unscaledCov: Matrix | null = null;
  const qr = n >= p ? new QrDecomposition(scaled) : null;
  const R = qr?.upperTriangularMatrix;
  if (qr && R) {
    let maxDiag = 0;
    for (let j = 0; j < p; j++) maxDiag = Math.max(maxDiag, Math.abs(R.get(j, j)));
    rank = 0;
    for (let j = 0; j < p; j++) if (Math.abs(R.get(j, j)) > RANK_TOLERANCE * maxDiag) rank++;
  } else {
    rank = Math.min(n, p);
  }
  if (qr && R && rank === p) {
    beta = qr.solve(yScaled);
    // (XᵀWX)⁻¹ = R⁻¹·R⁻ᵀ; R is p × p and upper triangular.
    const rInv = invertUpperTriangular(R);
    unscaledCov = rInv.mmul(rInv.transpose());
  } else {
    const svd = new SingularValueDecomposition(scaled, { autoTranspose: true });
    beta = svd.solve(yScaled);
    rank = svd.rank;
    unscaledCov = pseudoInverse(scaled.transpose().mmul(scaled));
  }

  const coefficients = beta.getColumn(0);
  const fitted = new Array<number>(n);
  const residuals = new Array<number>(n);
  let ssr = 0;
  let sumW = 0;
  let sumWy = 0;
  for (let i = 0; i < n; i++) {
    let f = 0;
    for (let j = 0; j < p; j++) f += design.get(i, j) * coefficients[j]!;
    fitted[i] = f;
    const r = y[i]! - f;
    residuals[i] = r;
    const wi = w === undefined ? 1 : w[i]!;
    ssr += wi * r * r;
    sumW += wi;
    sumWy += wi * y[i]!;
  }
  const yBar = hasIntercept && sumW > 0 ? sumWy / sumW : 0;
  let sst = 0;
  for (let i = 0; i < n; i++) {
    const wi = w === undefined ? 1 : w[i]!;
    const d = y[i]! - yBar;
    sst += wi * d * d;
  }
  const dfResidual = n - rank;
  const r2 = sst > 0 ? 1 - ssr / sst : 0;
  const k = hasIntercept ? 1 : 0;
  const r2Adjusted = dfResidual > 0 ? 1 - ((1 - r2) * (n - k)) / dfResidual : Number.NaN;
  const sigma2 = dfResidual > 0 ? ssr / dfResidual : Number.NaN;
  const standardErrors = coefficients.map((_, j) => Math.sqrt(unscaledCov!.get(j, j) * sigma2));

  return { coefficients, standardErrors, fitted, residuals, n, p, rank, dfResidual, ssr, sst, r2, r2Adjusted };
}

function detectIntercept(X: Matrix): boolean {
  for (let j = 0; j < X.columns; j++) {
    let ones = true;
    for (let i = 0; i < X.rows && ones; i++) ones = X.get(i, j) === 1;
    if (ones) return true;
  }
  return false;
}

function invertUpperTriangular(R: Matrix): Matrix {
  const p = R.columns;
  const inv = new Matrix(p, p);
  for (let j = p - 1; j >= 0; j--) {
    inv.set(j, j, 1 / R.get(j, j));
    for (let i = j - 1; i >= 0; i--) {
      let s = 0;
      for (let k = i + 1; k <= j; k++) s += R.get(i, k) * inv.get(k, j);
      inv.set(i, j, -s / R.get(i, i));
    }
  }
  return inv;
}
