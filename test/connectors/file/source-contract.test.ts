/**
 * The source contract suite for FileSource: text lines (whole files and byte ranges), JSON lines
 * (byte ranges), CSV with a header, and a monitored directory (unbounded). CSV delimiters and
 * array records are checked in file-source.test.ts.
 */
import { rmSync } from 'node:fs';
import { after } from 'node:test';
import { sourceContract } from '../../contracts/source.contract.ts';
import { csvObjectsCase, FIXTURES, jsonLinesCase, monitoredCase, textLinesCase, textLinesRangesCase } from './fixtures/file-cases.ts';

after(() => rmSync(FIXTURES, { recursive: true, force: true }));

sourceContract(textLinesCase);
sourceContract(textLinesRangesCase);
sourceContract(jsonLinesCase);
sourceContract(csvObjectsCase);
sourceContract(monitoredCase);
