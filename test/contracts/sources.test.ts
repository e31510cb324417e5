/**
 * The source contract suite for every Source weir has: the number sequence (fromSequence), the
 * elements source (fromElements / fromCollection), Nexmark bounded and unbounded, and the paced
 * sequence test fixture the sink contract suite runs on.
 */
import {
  elementsSourceCase,
  nexmarkBoundedSourceCase,
  nexmarkUnboundedSourceCase,
  pacedBoundedSourceCase,
  pacedUnboundedSourceCase,
  sequenceSourceCase,
} from './fixtures/source-cases.ts';
import { sourceContract } from './source.contract.ts';

sourceContract(sequenceSourceCase);
sourceContract(elementsSourceCase);
sourceContract(nexmarkBoundedSourceCase);
sourceContract(nexmarkUnboundedSourceCase);
sourceContract(pacedBoundedSourceCase);
sourceContract(pacedUnboundedSourceCase);
