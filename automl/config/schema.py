"""The recipe schema as structured configs.

OmegaConf checks keys and types against these dataclasses when a recipe is composed;
``automl.config.validate`` checks ranges and component names. Code below the CLI only ever sees
these typed objects, never a ``DictConfig``. ``docs/recipe-reference.md`` is generated from the
``help`` metadata here (``python -m automl.config.reference``).
"""

from dataclasses import dataclass, field

# OmegaConf reads these annotations at runtime: it needs typing's Optional / List / Dict.
from typing import Any, Dict, List, Optional

from omegaconf import MISSING


def _help(text: str, **kwargs: Any) -> Any:
    return field(metadata={"help": text}, **kwargs)


@dataclass
class TaskConfig:
    type: str = _help(
        "What is learnt: tabular_classification, image_classification or text_classification.",
        default="tabular_classification",
    )


@dataclass
class DataConfig:
    loader: Optional[str] = _help(
        "Registered loader name: csv, parquet, duckdb, image_folder, image_table, text_table, or a plugin's. "
        "null: by task (tabular csv, image image_folder, text text_table).",
        default=None,
    )
    path: Optional[str] = _help(
        "File (or glob, for duckdb) to read; relative paths are relative to the current directory.",
        default=None,
    )
    target: Optional[str] = _help("Column holding the label (not needed by image_folder).", default=None)
    text_column: Optional[str] = _help("Column holding the text (text tasks); default: text.", default=None)
    image_column: Optional[str] = _help(
        "Column holding image paths, relative to the table's folder (image_table); default: image.", default=None
    )
    labels: Optional[List[str]] = _help(
        "Fixed label list; rows with another label are reported and skipped. Default: labels seen.",
        default=None,
    )
    features: Optional[List[str]] = _help(
        "Columns to learn from, in this order. Default: every column but the target and `drop`.",
        default=None,
    )
    drop: List[str] = _help("Columns never used as features (ids, leaks).", default_factory=list)
    max_bad_fraction: float = _help(
        "The run fails when more than this fraction of rows is unreadable or unlabelled.",
        default=0.05,
    )
    options: Dict[str, Any] = _help(
        "Loader options, validated against the loader's own config (see `automl plugins`).",
        default_factory=dict,
    )


@dataclass
class SearchConfig:
    trainers: Optional[List[str]] = _help(
        "Registered trainer names to search over. null: every trainer of the task, cheap strong ones first "
        "(heads on embeddings, linear and tree models; then fine-tuning; then networks from scratch).",
        default=None,
    )
    backbones: Optional[List[str]] = _help(
        "Registered backbones (image or text) whose embeddings the feature trainers are searched on; timm:MODEL "
        "names any timm model. null: every backbone of the task whose weights are on this machine, cheapest first.",
        default=None,
    )
    backbone_options: Dict[str, Dict[str, Any]] = _help(
        "Per backbone, its options (e.g. weights: /path/file.pth, pretrained: false); see `automl plugins`.",
        default_factory=dict,
    )
    require_weights: bool = _help(
        "Fail the run when a backbone's pretrained weights cannot be found (default: skip it with a warning).",
        default=False,
    )
    augmenters: List[str] = _help(
        "Registered augmenters applied to training images by trainers that fine-tune a backbone, in "
        "order; [] switches augmentation off.",
        default_factory=lambda: ["flip", "crop", "color_jitter"],
    )
    augmenter_options: Dict[str, Dict[str, Any]] = _help(
        "Per augmenter, its options (e.g. rotate: {degrees: 10}); see `automl plugins`.",
        default_factory=dict,
    )
    space: Dict[str, Dict[str, Any]] = _help(
        "Per trainer, hyperparameter -> fixed value or {uniform|loguniform|int: [lo, hi]} or "
        "{choice: [...]}; the trainer's default space fills what is not given.",
        default_factory=dict,
    )
    time_budget_s: Optional[float] = _help(
        "Wall-clock budget of the whole run in seconds, from the command's start to a registered model (load, "
        "embeddings, search, refit, export, registration); what does not fit is scaled down or skipped and the "
        "summary says so. null: no limit (then max_trials is required).",
        default=60.0,
    )
    max_trials: Optional[int] = _help("Cap on the number of trials; null: until the budget ends.", default=40)
    stop_early: bool = _help(
        "End the search before its budget once every trainer-backbone pair's defaults were tried and the last "
        "trials gave no gain beyond the best one's noise (the standard error of its fold scores); false spends "
        "the whole budget.",
        default=True,
    )
    scheduler: str = _help(
        "asha: stop weak trials after early folds (with a time budget); fifo: run every trial to "
        "the end. Without a time budget the search always runs fifo, so results are reproducible.",
        default="asha",
    )
    max_concurrent_trials: Optional[int] = _help(
        "Trials running at once; null: one per CPU of the Ray cluster.", default=None
    )
    cpus_per_trial: float = _help("CPUs each trial reserves on Ray.", default=1.0)
    ensemble: bool = _help(
        "Add a greedy weighted ensemble of the best trials (fit on out-of-fold predictions) to the leaderboard.",
        default=True,
    )
    ensemble_size: int = _help("Rounds of greedy ensemble selection.", default=25)
    mode: str = _help(
        "auto: when the recipe is unchanged since its last run and the data changed by at most "
        "retrain_max_change, re-evaluate the last run's best configurations on the new data instead of "
        "searching (retrain); otherwise search. search: always search. retrain: always retrain (needs a "
        "previous run of this recipe).",
        default="auto",
    )
    retrain_top_k: int = _help("Configurations of the last run that a retrain re-evaluates.", default=5)
    retrain_max_change: float = _help(
        "Largest share of examples added or removed since the last run for which auto mode retrains.",
        default=0.5,
    )


@dataclass
class GateConfig:
    margin: float = _help(
        "The smallest difference in the metric that counts. On the same data a new configuration must beat "
        "production by more than this; on changed data (new examples, reviewed labels) the new version must "
        "not be worse than production by more than this. Both on the same examples, by a paired bootstrap.",
        default=0.01,
    )
    confidence: float = _help(
        "Share of paired bootstrap resamples in which the rule above must hold (0.5..0.999).", default=0.9
    )
    bootstrap: int = _help("Paired bootstrap resamples over the examples.", default=1000)


@dataclass
class ModelTestConfig:
    type: str = _help(
        "must_pass (an input must get a label), class_floor (a class's recall or precision at least a "
        "floor, on out-of-fold predictions) or invariance (a perturbation must not change the label).",
        default=MISSING,
    )
    name: Optional[str] = _help("Name shown in the test table; default: made from the test.", default=None)
    input: Any = _help(
        "must_pass: the input: a text, an image path (relative to data.path), or a row as a mapping.",
        default=None,
    )
    label: Optional[str] = _help(
        "must_pass: the label the input must get; class_floor: the class (null: every class).", default=None
    )
    recall: Optional[float] = _help("class_floor: the lowest recall allowed.", default=None)
    precision: Optional[float] = _help("class_floor: the lowest precision allowed.", default=None)
    perturbation: Optional[str] = _help(
        "invariance: typos (texts), flip or crop (images), noise (tables).", default=None
    )
    columns: Optional[List[str]] = _help(
        "invariance with noise: the numeric columns; null: every numeric one.", default=None
    )
    strength: float = _help(
        "invariance: typos: share of words changed; crop: share of each side cut; noise: the noise's standard "
        "deviation as a share of each column's.",
        default=0.1,
    )
    examples: int = _help("invariance: training examples perturbed (a seeded sample).", default=200)
    max_fail_rate: float = _help("invariance: the highest share of examples whose label may change.", default=0.05)


@dataclass
class EvalConfig:
    cv_folds: int = _help("Stratified cross-validation folds.", default=5)
    metric: str = _help(
        "Registered metric to rank by: accuracy, balanced_accuracy, f1_macro, roc_auc, log_loss.",
        default="roc_auc",
    )
    tune_threshold: bool = _help(
        "Binary tasks with a label-based metric: tune the decision threshold on out-of-fold predictions.",
        default=True,
    )
    feature_importance: bool = _help("Permutation feature importance of the winner (tabular).", default=True)
    importance_rows: int = _help("Held-out rows sampled to compute permutation importance.", default=2000)
    gate: GateConfig = field(default_factory=GateConfig)
    tests: List[ModelTestConfig] = _help(
        "Model tests: a failing one keeps a new version out of production (see docs/model-tests.md).",
        default_factory=list,
    )


@dataclass
class RolloutConfig:
    steps: List[Any] = _help(
        "How a version that passed the gate reaches all traffic: 'shadow' and canary percents, e.g. "
        "[shadow, 5, 25, 50, 100]; the last step must be 100. Empty: it becomes production at once.",
        default_factory=list,
    )
    interval_s: float = _help("Seconds between analyses of the live comparison.", default=30.0)
    step_requests: int = _help(
        "Requests compared (candidate and production on the same inputs) before a step may end.", default=100
    )
    step_s: float = _help("Seconds each step is held at least.", default=0.0)
    min_requests: int = _help(
        "Fewer compared requests than this: the analysis waits, neither pass nor fail.", default=20
    )
    failure_limit: int = _help("Failed analyses after which the rollout is rolled back.", default=1)
    min_agreement: float = _help("Lowest share of requests on which candidate and production agree.", default=0.8)
    max_class_shift: float = _help(
        "Largest total variation distance between the two predicted-class distributions.", default=0.2
    )
    max_confidence_drop: float = _help(
        "Largest drop of the candidate's median confidence below production's (a model that lost its signal "
        "answers with its priors); the confidence distributions' Kolmogorov-Smirnov distance is shown beside it.",
        default=0.2,
    )
    max_error_rate: float = _help(
        "Largest share of the candidate's calls that fail on the server's side (5xx, timeouts).", default=0.01
    )
    max_latency_ratio: float = _help(
        "Largest ratio of the candidate's p99 latency to production's (on the same window), plus latency_slack_ms.",
        default=2.0,
    )
    latency_slack_ms: float = _help("Milliseconds of p99 difference never counted as slower.", default=20.0)
    min_reviewed: int = _help("Reviewed compared requests needed before reviewed accuracy is checked.", default=20)
    max_accuracy_drop: float = _help(
        "Largest drop of the candidate's accuracy on reviewed requests below production's.", default=0.02
    )


@dataclass
class DeployConfig:
    backend: Optional[str] = _help("Registered serving backend; null: none.", default=None)
    export: Optional[str] = _help(
        "Registered exporter (e.g. onnx): the refit model is also exported, checked against the native one "
        "and saved with the version; `automl.load` and `automl serve` then answer with the copy (images and "
        "texts: it also gives the embedding the invoke log keeps). auto: onnx when it is installed (a model it "
        "cannot export, such as a fine-tuned network or TF-IDF, keeps its native form; a backbone's first "
        "conversion is held back from the search's time); null: keep the native model only.",
        default="auto",
    )
    export_options: Dict[str, Any] = _help(
        "Options of the exporter, validated against its own config (see `automl plugins`).", default_factory=dict
    )
    export_check_rows: int = _help("Examples the export is checked on (agreement with the native model).", default=256)
    retention_days: Optional[float] = _help(
        "Days the model server's invoke log keeps this model's invokes and their inputs; `automl gc` deletes "
        "older ones (by the production version's recipe). null: keep them forever.",
        default=90.0,
    )
    rollout: RolloutConfig = field(default_factory=RolloutConfig)


@dataclass
class MonitorConfig:
    reference: str = _help(
        "What recent invokes are compared with: training (the production version's training data and its "
        "out-of-fold predictions) or window (the invokes just before the current window).",
        default="training",
    )
    window: int = _help("The current window: the model's most recent invokes.", default=1000)
    window_hours: Optional[float] = _help(
        "A window by time instead of by count: the current window is the invokes of the last this many "
        "hours (UTC), and with reference: window, the reference those of as many hours before.",
        default=None,
    )
    reference_window: Optional[int] = _help(
        "With reference: window, how many invokes before the current window; null: as many as window.",
        default=None,
    )
    alpha: float = _help(
        "Family-wise false-alarm rate: the p-values of every test (columns, embeddings, outputs) are "
        "Holm-corrected to it.",
        default=0.05,
    )
    large_sample: int = _help(
        "Above this many invokes in a window, columns are compared by a distance (Wasserstein for numbers, "
        "Jensen-Shannon for categories) against distance_threshold instead of a test.",
        default=1000,
    )
    distance_threshold: float = _help(
        "Drift for a distance: normed Wasserstein or Jensen-Shannon distance above this.", default=0.1
    )
    numeric_test: Optional[str] = _help(
        "Registered drift detector for numeric columns; null: ks (or wasserstein above large_sample).",
        default=None,
    )
    categorical_test: Optional[str] = _help(
        "Registered drift detector for categorical columns; null: chi2, z_test for two values (or "
        "jensen_shannon above large_sample).",
        default=None,
    )
    embedding_test: str = _help("Registered drift detector for image and text embeddings.", default="mmd")
    permutations: int = _help("Permutations of the embedding test's p-value.", default=200)
    min_invokes: int = _help("Fewer invokes than this in a window: not enough to say, no test is run.", default=50)
    samplers: List[str] = _help(
        "Registered samplers that share `automl sample`'s batch (see `automl plugins`, kind sampler); "
        "flagged invokes are taken first.",
        default_factory=lambda: ["flagged", "low_confidence", "rare_class", "near_mistakes"],
    )
    random_share: float = _help("Share of each sampled batch picked at random, as a control.", default=0.1)
    per_day: int = _help("At most this many invokes a day go to the review queue (UTC days).", default=50)
    sample_from: int = _help("`automl sample` picks among the model's most recent invokes, this many.", default=5000)
    min_distance: float = _help(
        "A batch is diverse: an invoke whose embedding is closer than this cosine distance to one already "
        "picked is passed over.",
        default=0.02,
    )


@dataclass
class LoopConfig:
    retrain_on: List[str] = _help(
        "What makes `automl loop` retrain: annotations (new reviewed labels), data (the data changed), "
        "drift (the monitor found drift), always.",
        default_factory=lambda: ["annotations", "data", "drift"],
    )
    min_annotations: int = _help("New reviewed labels that trigger a retrain.", default=1)
    sample: bool = _help("Each pass sends a batch of invokes to the review queue (`automl sample`).", default=True)
    interval_s: float = _help("`automl loop watch=true`: seconds between checks of the triggers.", default=10.0)
    monitor_interval_s: float = _help(
        "`automl loop watch=true`: seconds between drift checks and samples for review.", default=300.0
    )


@dataclass
class RayConfig:
    address: Optional[str] = _help(
        "Address of a running Ray cluster (host:port); null: start a local Ray for the run.",
        default=None,
    )
    num_cpus: Optional[int] = _help("CPUs of the local Ray; null: all of this machine's.", default=None)
    storage_path: Optional[str] = _help(
        "Where trials keep their results; must be shared by every node of a multi-machine cluster. "
        "Default: the run's folder in the workspace.",
        default=None,
    )


@dataclass
class Recipe:
    name: str = _help("The model's name in the registry (letters, digits, _ and -).", default=MISSING)
    seed: int = _help("Seed for folds, search and trainers.", default=0)
    workspace: Optional[str] = _help("Workspace folder; default: $AUTOML_WORKSPACE, else ./.automl.", default=None)
    task: TaskConfig = field(default_factory=TaskConfig)
    data: DataConfig = field(default_factory=DataConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    deploy: DeployConfig = field(default_factory=DeployConfig)
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
    loop: LoopConfig = field(default_factory=LoopConfig)
    ray: RayConfig = field(default_factory=RayConfig)
