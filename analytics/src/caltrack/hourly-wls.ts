/**
 * Minimal weighted least squares for the CalTRACK hourly model, solved from accumulated normal
 * equations. Interim: `analytics/src/stats/` (least squares, fit statistics) is being written in
 * parallel; once it lands, the lead may fold this file into it. Only the pieces the hourly model
 * needs live here: the normal equations of a small design, and a symmetric solve that behaves like
 * statsmodels' default `pinv` fit on the rank-deficient cases the hourly model meets.
 */
import { CholeskyDecomposition, Matrix, pseudoInverse } from 'ml-matrix';

/** Solution of a symmetric positive semi-definite system `A·x = b`. */
export interface SymmetricSolution {
  /** Solution vector; columns without information (see `dropped`) are 0. */
  readonly x: Float64Array;
  /** Indices of the columns dropped because their diagonal entry is (relatively) zero. */
  readonly dropped: readonly number[];
  /** True when the remaining system was singular and the SVD pseudo-inverse was used. */
  readonly pseudoInverse: boolean;
}

/**
 * Relative size below which a diagonal entry of the normal matrix counts as zero: the column has
 * (numerically) no weighted variation left and gets coefficient 0, which is what statsmodels'
 * `pinv` solution gives for an all-zero column.
 */
export const DEFAULT_ZERO_COLUMN_TOLERANCE = 1e-9;

/**
 * Solves the symmetric positive semi-definite system `A·x = b` (A row-major, k×k).
 *
 * Columns whose diagonal entry is at most `tolerance · scale[j]` (scale defaults to the diagonal
 * itself, so only exact zeros drop) are removed first and get x = 0. The rest is solved by Cholesky
 * (ml-matrix); if it is not positive definite, by the SVD pseudo-inverse, i.e. the minimum-norm
 * least-squares solution, as statsmodels' WLS with its default `method='pinv'` does.
 *
 * @param a - k×k symmetric matrix, row-major.
 * @param b - right-hand side of length k.
 * @param scale - optional per-column scale for the zero test (e.g. the raw weighted sum of squares
 *   before centring), same length as b.
 */
export function solveSymmetric(
  a: Float64Array,
  b: Float64Array,
  k: number,
  scale?: Float64Array,
  tolerance = DEFAULT_ZERO_COLUMN_TOLERANCE,
): SymmetricSolution {
  const x = new Float64Array(k);
  const keep: number[] = [];
  const dropped: number[] = [];
  for (let j = 0; j < k; j++) {
    const d = a[j * k + j]!;
    const s = scale ? scale[j]! : d;
    if (d > 0 && d > tolerance * s) keep.push(j);
    else dropped.push(j);
  }
  const m = keep.length;
  if (m === 0) return { x, dropped, pseudoInverse: false };
  const am = new Matrix(m, m);
  const bm = new Matrix(m, 1);
  for (let i = 0; i < m; i++) {
    const ki = keep[i]!;
    bm.set(i, 0, b[ki]!);
    for (let j = 0; j <= i; j++) {
      // Mirror one triangle so the matrix is exactly symmetric (ml-matrix's Cholesky checks).
      const v = a[ki * k + keep[j]!]!;
      am.set(i, j, v);
      am.set(j, i, v);
    }
  }
  let solution: Matrix;
  let usedPinv = false;
  const chol = new CholeskyDecomposition(am);
  if (chol.isPositiveDefinite()) {
    solution = chol.solve(bm);
  } else {
    solution = pseudoInverse(am).mmul(bm);
    usedPinv = true;
  }
  for (let i = 0; i < m; i++) x[keep[i]!] = solution.get(i, 0);
  return { x, dropped, pseudoInverse: usedPinv };
}

/**
 * Weighted normal equations `XᵀWX·β = XᵀWy` of a small dense design, accumulated one observation
 * at a time so no design matrix is ever built.
 */
export class NormalEquations {
  /** Number of columns. */
  readonly k: number;
  /** XᵀWX, row-major k×k (both triangles filled). */
  readonly xtwx: Float64Array;
  /** XᵀWy. */
  readonly xtwy: Float64Array;
  /** Observations with weight > 0 added so far. */
  n = 0;

  constructor(k: number) {
    this.k = k;
    this.xtwx = new Float64Array(k * k);
    this.xtwy = new Float64Array(k);
  }

  /** Adds one observation (x of length k, response y, weight w ≥ 0; w = 0 is ignored). */
  add(x: ArrayLike<number>, y: number, w: number): void {
    if (!(w > 0)) return;
    const k = this.k;
    for (let i = 0; i < k; i++) {
      const wxi = w * x[i]!;
      this.xtwy[i]! += wxi * y;
      for (let j = 0; j < k; j++) this.xtwx[i * k + j]! += wxi * x[j]!;
    }
    this.n++;
  }

  /** Solves for β (see {@link solveSymmetric} for the rank-deficient cases). */
  solve(): SymmetricSolution {
    return solveSymmetric(this.xtwx, this.xtwy, this.k);
  }
}
