/** The query parameter that marks a prebuilt job module's URL. */
export declare const PREBUILT_MARK: 'weir-prebuilt';

/** Whether the job module URL `jobModule` names a prebuilt job. */
export declare function isPrebuiltJob(jobModule: string): boolean;
