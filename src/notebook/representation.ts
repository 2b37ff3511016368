/**
 * Looking inside E's features in a notebook: the linear probe's per-class
 * confusion matrix, and a 2-D map of the features by UMAP (McInnes et al.
 * 2018, arXiv:1802.03426; the npm package umap-js, PAIR-code's port),
 * coloured by the labels E never saw.
 */
import { UMAP } from 'umap-js';
import type { Features } from '../eval/features';
import { linearProbe, ProbeOptions } from '../eval/probe';
import { Rng } from '../util/rng';
import { Figure, PLOTLY_COLORS } from './plotly';

/** counts[true][predicted] over a set of examples. */
export function confusionMatrix(labels: Int32Array, predictions: Int32Array, numClasses: number): number[][] {
  if (labels.length !== predictions.length) {
    throw new Error(`Expected as many predictions as labels, but got ${predictions.length} and ${labels.length}`);
  }
  const counts = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  labels.forEach((l, i) => { counts[l][predictions[i]]++; });
  return counts;
}

/** The probe of `train` scored on `test` (as eval/probe.ts evaluateRepresentation trains it), as a confusion matrix. */
export async function probeConfusion(train: Features, trainLabels: Int32Array, test: Features, testLabels: Int32Array,
                                     probe: ProbeOptions & { seed?: number }): Promise<{ counts: number[][]; top1: number }> {
  const r = await linearProbe(train, trainLabels, { test: { features: test, labels: testLabels } }, probe);
  return { counts: confusionMatrix(testLabels, r.predictions.test, probe.numClasses), top1: r.top1.test };
}

/** A heatmap of a confusion matrix, each row as % of its true class, the counts on hover and in the cells. */
export function confusionFigure(counts: number[][], classNames: string[], opts: { title?: string } = {}): Figure {
  const percent = counts.map((row) => {
    const total = row.reduce((a, b) => a + b, 0);
    return row.map((c) => (total === 0 ? 0 : (100 * c) / total));
  });
  return {
    data: [{
      type: 'heatmap', z: percent, x: classNames, y: classNames, colorscale: 'Blues', zmin: 0, zmax: 100,
      text: counts.map((row) => row.map(String)), texttemplate: '%{text}',
      hovertemplate: 'true %{y}, predicted %{x}: %{z:.1f}%<extra></extra>',
      colorbar: { title: { text: '% of row' } },
    }],
    layout: {
      title: opts.title ? { text: opts.title } : undefined, xaxis: { title: { text: 'predicted' }, type: 'category' },
      yaxis: { title: { text: 'true class' }, type: 'category', autorange: 'reversed' },
      margin: { t: opts.title ? 40 : 10, r: 10, b: 50, l: 70 },
    },
  };
}

/** Options of featureMap. */
export interface FeatureMapOptions {
  /** UMAP's neighbourhood size; default 15 (umap-js's default). */
  neighbours?: number;
  /** Seeds UMAP's random initialisation and sampling: the same features give the same map. Default 0. */
  seed?: number;
}

/** A 2-D UMAP embedding of the feature rows: [n][2]. Deterministic for a seed. */
export function featureMap(f: Features, opts: FeatureMapOptions = {}): number[][] {
  if (f.n < 3) throw new Error(`Expected at least 3 feature vectors for a 2-D map, but got ${f.n}`);
  const rows = Array.from({ length: f.n }, (_, i) => Array.from(f.data.subarray(i * f.d, (i + 1) * f.d)));
  const rng = new Rng(opts.seed ?? 0);
  const umap = new UMAP({ nComponents: 2, nNeighbors: Math.min(opts.neighbours ?? 15, f.n - 1), random: () => rng.next() });
  return umap.fit(rows);
}

/** A scatter of 2-D points, one trace (colour) per class. */
export function mapFigure(points: number[][], labels: Int32Array, classNames: string[], opts: { title?: string } = {}): Figure {
  return {
    data: classNames.map((name, c) => {
      const idx = [...labels.keys()].filter((i) => labels[i] === c);
      return { type: 'scatter', mode: 'markers', name, x: idx.map((i) => points[i][0]), y: idx.map((i) => points[i][1]),
               marker: { size: 5, color: PLOTLY_COLORS[c % PLOTLY_COLORS.length], opacity: 0.8 } };
    }),
    layout: {
      title: opts.title ? { text: opts.title } : undefined, xaxis: { showticklabels: false, zeroline: false },
      yaxis: { showticklabels: false, zeroline: false }, margin: { t: opts.title ? 40 : 10, r: 10, b: 10, l: 10 },
    },
  };
}
