import { describe, expect, it } from 'vitest';
import { fileBase, formatBytes, formatNumber, formatShape, layerCategory, stripExtension, zipName } from './index';

describe('display helpers', () => {
  it('formats shapes, numbers and sizes', () => {
    expect(formatShape([1, 64, 112, 112])).toBe('1×64×112×112');
    expect(formatShape(undefined)).toBe('?');
    expect(formatNumber(0.000012346)).toBe('1.235e-5');
    expect(formatNumber(1.23456)).toBe('1.235');
    expect(formatNumber(-Infinity)).toBe('−∞');
    expect(formatBytes(1536)).toBe('1.5 KB');
    expect(formatBytes(12)).toBe('12 B');
  });
  it('categorises layer types', () => {
    expect(layerCategory('Convolution')).toBe('convolution');
    expect(layerCategory('batchnorm')).toBe('normalisation');
    expect(layerCategory('ReLU')).toBe('activation');
    expect(layerCategory('Pooling')).toBe('pooling');
    expect(layerCategory('Input')).toBe('data');
    expect(layerCategory('Eltwise')).toBe('other');
  });
  it('handles file names', () => {
    expect(fileBase('a/b\\c.prototxt')).toBe('c.prototxt');
    expect(stripExtension('net.deploy.prototxt')).toBe('net.deploy');
    expect(zipName('r50_inference.prototxt')).toBe('r50_inference.zip');
  });
});
