-- The pet diet planner (seed 003, issue 12). Accounts are identity's `users`; the seed's
-- extra user columns (nickname, phone) live in diet_profiles. Tasks mirror the seed's
-- `tasks` model (the engine run with the same id does the work and holds the event log);
-- plans are the seed's `diet_plans` plus pet link and activation; meals are `meal_records`.

CREATE TABLE diet_profiles (
    user_id     BLOB PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    nickname    TEXT,
    phone       TEXT,
    updated_at  TEXT NOT NULL
);

CREATE TABLE diet_pets (
    id                   BLOB PRIMARY KEY,
    user_id              BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name                 TEXT NOT NULL,
    species              TEXT NOT NULL CHECK (species IN ('cat', 'dog')),
    breed                TEXT,
    age_months           INTEGER NOT NULL,
    weight_kg            REAL NOT NULL,
    gender               TEXT CHECK (gender IN ('male', 'female')),
    neutered             BOOLEAN NOT NULL,
    activity_level       TEXT NOT NULL CHECK (activity_level IN ('low', 'moderate', 'high', 'working')),
    body_condition_score INTEGER NOT NULL,
    health_notes         TEXT,
    vet_confirmed        BOOLEAN NOT NULL,
    allergies            TEXT NOT NULL,
    food_preferences     TEXT NOT NULL,
    active_plan_id       BLOB,
    is_active            BOOLEAN NOT NULL,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL
);
CREATE INDEX diet_pets_user ON diet_pets (user_id, is_active, created_at);

CREATE TABLE diet_tasks (
    id              BLOB PRIMARY KEY,
    user_id         BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    task_type       TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
    progress        INTEGER NOT NULL,
    current_node    TEXT,
    pet_id          BLOB,
    plan_id         BLOB,
    input_data      TEXT NOT NULL,
    output_data     TEXT,
    error_message   TEXT,
    idempotency_key TEXT,
    started_at      TEXT,
    completed_at    TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    CONSTRAINT diet_tasks_idempotency UNIQUE (user_id, idempotency_key)
);
CREATE INDEX diet_tasks_user ON diet_tasks (user_id, created_at);
CREATE INDEX diet_tasks_active ON diet_tasks (user_id, status);

CREATE TABLE diet_plans (
    id                BLOB PRIMARY KEY,
    user_id           BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    task_id           BLOB,
    pet_id            BLOB,
    pet_type          TEXT NOT NULL,
    pet_breed         TEXT,
    pet_age           INTEGER NOT NULL,
    pet_weight        REAL NOT NULL,
    health_status     TEXT,
    plan_data         TEXT NOT NULL,
    is_active         BOOLEAN NOT NULL,
    applied_at        TEXT,
    active_start_date TEXT,
    deleted           BOOLEAN NOT NULL,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    CONSTRAINT diet_plans_task UNIQUE (task_id)
);
CREATE INDEX diet_plans_user ON diet_plans (user_id, deleted, created_at);

CREATE TABLE diet_meals (
    id             BLOB PRIMARY KEY,
    user_id        BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    pet_id         BLOB NOT NULL,
    plan_id        BLOB NOT NULL,
    meal_date      TEXT NOT NULL,
    meal_type      TEXT NOT NULL CHECK (meal_type IN ('breakfast', 'lunch', 'dinner', 'snack')),
    meal_order     INTEGER NOT NULL,
    meal_time      TEXT,
    food_name      TEXT NOT NULL,
    description    TEXT,
    calories       REAL NOT NULL,
    nutrition_data TEXT NOT NULL,
    is_completed   BOOLEAN NOT NULL,
    completed_at   TEXT,
    notes          TEXT,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE INDEX diet_meals_pet_date ON diet_meals (pet_id, meal_date, meal_order);

CREATE TABLE diet_llm_usage (
    id                BLOB PRIMARY KEY,
    user_id           BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    task_id           BLOB NOT NULL,
    node              TEXT NOT NULL,
    provider          TEXT NOT NULL,
    model             TEXT NOT NULL,
    prompt_tokens     BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    cost_usd          REAL NOT NULL,
    day               TEXT NOT NULL,
    created_at        TEXT NOT NULL
);
CREATE INDEX diet_llm_usage_user_day ON diet_llm_usage (user_id, day);
CREATE INDEX diet_llm_usage_task ON diet_llm_usage (task_id);
