import type { ContractSection } from '../contract.js';
import { bootstrapSections } from './bootstrap.js';
import { fenceSections } from './fences.js';
import { flightSections } from './flight.js';
import { freshnessSections } from './freshness.js';
import { graceSections } from './grace.js';
import { robustnessSections } from './robustness.js';
import { tagSections } from './tags.js';
import { writeSections } from './writes.js';

const byNumber = new Map(
  [
    ...bootstrapSections,
    ...writeSections,
    ...robustnessSections,
    ...fenceSections,
    ...freshnessSections,
    ...graceSections,
    ...tagSections,
    ...flightSections,
  ].map((section) => [section.number, section]),
);

/** The sections in the order they run (10 last: it starts a process of its own). */
export const SECTIONS: ContractSection[] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17, 18, 10].map((n) => byNumber.get(n)!);
