import { multiplyDecimal, toDecimalString } from './decimal';

// Regressions found by the property tests (arithmetic.property.spec.ts).
describe('decimal', () => {
  it('multiplies a negative fraction below one without losing its leading zero', () => {
    expect(multiplyDecimal('-0.00017', '21')).toBe('-0.00357');
    expect(multiplyDecimal('-0.5', '1')).toBe('-0.5');
    expect(multiplyDecimal('0.5', '-3')).toBe('-1.5');
  });

  it('prints numbers from 1e21 on without an exponent', () => {
    expect(toDecimalString(1e21)).toBe('1000000000000000000000');
    expect(toDecimalString(-2.5e22)).toBe('-25000000000000000000000');
    expect(toDecimalString(-1e-12)).toBe('0');
  });
});
