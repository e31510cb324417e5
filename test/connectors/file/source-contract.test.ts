/** The source contract suite for FileSource: text lines (whole files and byte ranges), JSON lines, CSV, a monitored directory. */
import { rmSync } from 'node:fs';
import { after } from 'node:test';
import { sourceContract } from '../../contracts/source.contract.ts';
import { csvArraysCase, csvObjectsCase, FIXTURES, jsonLinesCase, monitoredCase, textLinesCase, textLinesRangesCase } from './fixtures/file-cases.ts';

after(() => rmSync(FIXTURES, { recursive: true, force: true }));

sourceContract(textLinesCase);
sourceContract(textLinesRangesCase);
sourceContract(jsonLinesCase);
sourceContract(csvObjectsCase);
sourceContract(csvArraysCase);
sourceContract(monitoredCase);
