import { Field, Float, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { MinorAmountScalar } from '../common/money';

export enum ChurnModelStatus {
  READY = 'READY',
  INSUFFICIENT_DATA = 'INSUFFICIENT_DATA',
}
export enum ChurnRiskBand {
  LOW = 'LOW',
  MEDIUM = 'MEDIUM',
  HIGH = 'HIGH',
}
export enum ChurnScoreSource {
  MODEL = 'MODEL',
  BASELINE = 'BASELINE',
}
registerEnumType(ChurnModelStatus, {
  name: 'ChurnModelStatus',
  description: 'Whether a churn model is in use.',
  valuesConfig: {
    READY: { description: 'A trained model scores accounts.' },
    INSUFFICIENT_DATA: { description: 'No model (too few labelled terms, or none trained yet): the rules-only score is used alone.' },
  },
});
registerEnumType(ChurnRiskBand, {
  name: 'ChurnRiskBand',
  description: 'P(churn) < 0.2 LOW, < 0.5 MEDIUM, else HIGH.',
  valuesConfig: {
    LOW: { description: 'P(churn) below 0.2.' },
    MEDIUM: { description: 'P(churn) from 0.2 to below 0.5.' },
    HIGH: { description: 'P(churn) 0.5 or more.' },
  },
});
registerEnumType(ChurnScoreSource, {
  name: 'ChurnScoreSource',
  description: 'What produced a churn probability: the trained model, or the rules-only baseline.',
  valuesConfig: {
    MODEL: { description: 'The latest trained model (calibrated).' },
    BASELINE: { description: 'The rules-only score, while no model is trained.' },
  },
});

@ObjectType({ description: 'One bin of predicted probability (width 0.1) on the test split: how many, the mean prediction, the observed churn rate.' })
export class CalibrationBin {
  @Field(() => Float, { description: 'Lower edge of the bin.' })
  from: number;

  @Field(() => Float, { description: 'Upper edge of the bin.' })
  to: number;

  @Field(() => Int, { description: 'Test terms predicted in the bin.' })
  count: number;

  @Field(() => Float, { nullable: true, description: 'Mean predicted P(churn) in the bin (null if empty).' })
  meanPredicted: number | null;

  @Field(() => Float, { nullable: true, description: 'Share of those terms that were not renewed (null if empty).' })
  observedRate: number | null;
}

@ObjectType({ description: 'Validation figures of one score on the test split (newer term ends, accounts not trained on).' })
export class ChurnFigures {
  @Field(() => Float, { nullable: true, description: 'Area under the ROC curve (0.5 = chance); null if the test split has one class only.' })
  auc: number | null;

  @Field(() => Float, { nullable: true, description: 'Churn rate among the 10 % riskiest test terms ÷ the overall test churn rate.' })
  topDecileLift: number | null;

  @Field(() => Float, { description: 'Mean squared error of the calibrated probability (lower is better).' })
  brier: number;

  @Field(() => [CalibrationBin], { description: 'The calibration table.' })
  calibration: CalibrationBin[];
}

@ObjectType({ description: 'A feature of the model: its weight on the standardised value, and the mean and standard deviation it is standardised with.' })
export class ChurnCoefficient {
  @Field({ description: 'The feature name (docs/churn.md).' })
  feature: string;

  @Field(() => Float, { description: 'Coefficient on (value − mean) ÷ sd, in log-odds of churn.' })
  coefficient: number;

  @Field(() => Float, { description: 'Training mean (a missing value is scored as this).' })
  mean: number;

  @Field(() => Float, { description: 'Training standard deviation.' })
  sd: number;
}

@ObjectType({ description: 'The churn model in use, with its validation next to the rules-only score and "days to renewal" alone; or why there is none.' })
export class ChurnModelReport {
  @Field(() => ChurnModelStatus, { description: 'READY with a model; INSUFFICIENT_DATA without one.' })
  status: ChurnModelStatus;

  @Field({ description: 'In words: the model in use, or why none is.' })
  message: string;

  @Field(() => Int, { description: 'Terms that have ended (renewed or not) as of today.' })
  labelledTerms: number;

  @Field(() => Int, { description: 'Labelled terms needed to train (EHUB_CHURN_MIN_LABELS).' })
  minLabelledTerms: number;

  @Field(() => Int, { nullable: true, description: 'The model version (null without a model).' })
  version: number | null;

  @Field(() => Date, { nullable: true, description: 'When the model was trained.' })
  trainedAt: Date | null;

  @Field(() => String, { nullable: true, description: 'The day the model was trained as of: terms ended before it are labelled.' })
  asOf: string | null;

  @Field(() => String, { nullable: true, description: 'Training window: the first term end trained (or calibrated) on.' })
  trainingWindowFrom: string | null;

  @Field(() => String, { nullable: true, description: 'Training window: the last term end trained (or calibrated) on.' })
  trainingWindowTo: string | null;

  @Field(() => String, { nullable: true, description: 'Test window: the split date (first term end of the test side).' })
  testWindowFrom: string | null;

  @Field(() => String, { nullable: true, description: 'Test window: the last term end tested.' })
  testWindowTo: string | null;

  @Field(() => Int, { nullable: true, description: 'Terms the regression was fitted on.' })
  trainSamples: number | null;

  @Field(() => Int, { nullable: true, description: 'Newest training terms held out to fit the Platt calibration.' })
  calibrationSamples: number | null;

  @Field(() => Int, { nullable: true, description: 'Test terms (newer term ends, accounts on the test side only).' })
  testSamples: number | null;

  @Field(() => Int, { nullable: true, description: 'Accounts on the training side of the split.' })
  trainAccounts: number | null;

  @Field(() => Int, { nullable: true, description: 'Accounts on the test side of the split.' })
  testAccounts: number | null;

  @Field(() => Float, { nullable: true, description: 'Churn rate of the test terms.' })
  testChurnRate: number | null;

  @Field(() => Boolean, { nullable: true, description: 'Whether Newton/IRLS met its convergence test.' })
  converged: boolean | null;

  @Field(() => Int, { nullable: true, description: 'Newton iterations the fit took.' })
  iterations: number | null;

  @Field(() => Float, { nullable: true, description: 'L2 penalty λ.' })
  lambda: number | null;

  @Field(() => ChurnFigures, { nullable: true, description: 'The model on the test split.' })
  model: ChurnFigures | null;

  @Field(() => String, { nullable: true, description: 'The rules-only score compared with (pluggable; the health score once it exists).' })
  baselineName: string | null;

  @Field(() => ChurnFigures, { nullable: true, description: 'The rules-only score on the same test split (calibrated the same way).' })
  rulesBaseline: ChurnFigures | null;

  @Field(() => ChurnFigures, { nullable: true, description: '"Days to renewal" alone on the same test split (constant at a 90-day snapshot: AUC 0.5 by construction).' })
  daysToRenewal: ChurnFigures | null;

  @Field(() => Float, { nullable: true, description: 'Intercept, in log-odds of churn.' })
  intercept: number | null;

  @Field(() => [ChurnCoefficient], { nullable: true, description: 'The coefficients, one per feature, with the standardisation.' })
  coefficients: ChurnCoefficient[] | null;

  @Field(() => Float, { nullable: true, description: 'Platt: P(churn) = 1 / (1 + exp(−(a × log-odds + b))).' })
  plattA: number | null;

  @Field(() => Float, { nullable: true, description: 'Platt intercept b.' })
  plattB: number | null;
}

@ObjectType({ description: 'One feature\'s part in an account\'s log-odds of churn.' })
export class ChurnContribution {
  @Field({ description: 'The feature name (docs/churn.md).' })
  feature: string;

  @Field(() => Float, { nullable: true, description: 'The raw value as of now (null: no data, scored as the training mean).' })
  value: number | null;

  @Field(() => Float, { description: 'coefficient × standardised value, in log-odds; the intercept plus all contributions = logOdds.' })
  contribution: number;
}

@ObjectType({ description: 'An account\'s churn risk for its open term ending soonest, with features as of now.' })
export class ChurnRisk {
  @Field(() => Float, {
    description:
      'Calibrated P(churn: the term ends without a renewal) = Platt(logOdds); it is monotone in logOdds but not σ(logOdds) itself.',
  })
  probability: number;

  @Field(() => ChurnRiskBand, { description: 'The band of the probability.' })
  band: ChurnRiskBand;

  @Field(() => ChurnScoreSource, { description: 'What produced it: the model or the rules-only baseline.' })
  source: ChurnScoreSource;

  @Field(() => Int, { nullable: true, description: 'The model version (null for the baseline).' })
  modelVersion: number | null;

  @Field(() => Float, { nullable: true, description: 'The model\'s uncalibrated log-odds of churn = intercept + Σ contributions (null for the baseline).' })
  logOdds: number | null;

  @Field(() => Float, { nullable: true, description: 'The model intercept, in log-odds (null for the baseline).' })
  intercept: number | null;

  @Field(() => [ChurnContribution], { description: 'Each feature\'s contribution (empty for the baseline).' })
  contributions: ChurnContribution[];

  @Field({ description: 'The sku of the term scored.' })
  sku: string;

  @Field({ description: 'Its last day.' })
  termEnd: string;

  @Field({ description: 'The instant the features are as of.' })
  asOf: Date;
}

@ObjectType({ description: 'Expected renewing ARR of one month (terms ending in it) and currency, with the outcome once the month\'s terms have all ended.' })
export class ArrForecastMonth {
  @Field({ description: 'First day of the month.' })
  month: string;

  @Field({ description: 'ISO 4217 currency of the amounts.' })
  currency: string;

  @Field(() => Int, { description: 'Terms ending in the month.' })
  terms: number;

  @Field(() => MinorAmountScalar, { description: 'Σ ARR of those terms.' })
  arrUpForRenewalMinor: string;

  @Field(() => MinorAmountScalar, { description: 'Σ ARR × P(renew), P(renew) = 1 − P(churn).' })
  expectedRenewingArrMinor: string;

  @Field(() => Int, { description: 'Terms whose outcome is recorded (ended).' })
  settledTerms: number;

  @Field(() => MinorAmountScalar, { nullable: true, description: 'Σ ARR of the terms that renewed; null until every term of the month has ended.' })
  actualRenewedArrMinor: string | null;

  @Field(() => MinorAmountScalar, { nullable: true, description: 'expected − actual (positive: the forecast was too high).' })
  errorMinor: string | null;
}

@ObjectType({ description: 'An ARR forecast snapshot: 12 months of expected renewing ARR as forecast on its day.' })
export class ArrForecast {
  @Field(() => ID, { description: 'The snapshot id.' })
  snapshotId: string;

  @Field({ description: 'When the snapshot was taken.' })
  takenAt: Date;

  @Field({ description: 'The day it forecasts from.' })
  asOf: string;

  @Field(() => Int, { nullable: true, description: 'The model version (null for the baseline).' })
  modelVersion: number | null;

  @Field(() => ChurnScoreSource, { description: 'What produced it: the model or the rules-only baseline.' })
  source: ChurnScoreSource;

  @Field(() => [ArrForecastMonth], { description: 'One row per month and currency, oldest first.' })
  months: ArrForecastMonth[];
}
