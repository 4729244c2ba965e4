"""Initial registry schema: clinics, users, patients (+identities), courses, visits,
side effects, audit events, login attempts, web sessions.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("role", sa.String(length=20), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=True),
        sa.Column("object_id", sa.String(length=64), nullable=True),
        sa.Column("patient_pseudonym", sa.String(length=16), nullable=True),
        sa.Column("clinic_id", sa.Integer(), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=200), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    op.create_index(op.f("ix_audit_events_at"), "audit_events", ["at"], unique=False)
    op.create_index(
        op.f("ix_audit_events_patient_pseudonym"),
        "audit_events",
        ["patient_pseudonym"],
        unique=False,
    )

    op.create_table(
        "clinics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("demo", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clinics")),
        sa.UniqueConstraint("name", name=op.f("uq_clinics_name")),
    )
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempts")),
    )
    op.create_index(
        "ix_login_attempts_key", "login_attempts", ["username", "ip", "at"], unique=False
    )

    op.create_table(
        "patients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pseudonym", sa.String(length=16), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("sex", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "sex IN ('female', 'male', 'other', 'unknown')", name=op.f("ck_patients_sex")
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_patients_clinic_id_clinics")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patients")),
        sa.UniqueConstraint("pseudonym", name=op.f("uq_patients_pseudonym")),
    )
    op.create_index(op.f("ix_patients_clinic_id"), "patients", ["clinic_id"], unique=False)

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "role IN ('clinician', 'researcher', 'admin')", name=op.f("ck_users_role")
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_users_clinic_id_clinics")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "courses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("condition_id", sa.String(length=64), nullable=False),
        sa.Column("primary_measure", sa.String(length=32), nullable=False),
        sa.Column("regimen", sa.JSON(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("stop_date", sa.Date(), nullable=True),
        sa.Column("stop_reason", sa.String(length=32), nullable=True),
        sa.Column("stop_detail", sa.String(length=500), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "stop_date IS NULL OR stop_date >= start_date", name=op.f("ck_courses_stop_after_start")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_courses_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_courses_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_courses")),
    )
    op.create_index(op.f("ix_courses_condition_id"), "courses", ["condition_id"], unique=False)
    op.create_index(op.f("ix_courses_patient_id"), "courses", ["patient_id"], unique=False)

    op.create_table(
        "patient_identities",
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("given_name", sa.String(length=100), nullable=False),
        sa.Column("family_name", sa.String(length=100), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("source_system", sa.String(length=200), nullable=True),
        sa.Column("source_id", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_patient_identities_clinic_id_clinics")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_patient_identities_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("patient_id", name=op.f("pk_patient_identities")),
        sa.UniqueConstraint(
            "clinic_id", "source_system", "source_id", name=op.f("uq_patient_identities_clinic_id")
        ),
    )
    op.create_table(
        "web_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_web_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_web_sessions")),
    )
    op.create_index(op.f("ix_web_sessions_user_id"), "web_sessions", ["user_id"], unique=False)

    op.create_table(
        "visits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("visit_date", sa.Date(), nullable=False),
        sa.Column("dose_mg", sa.Float(), nullable=False),
        sa.Column("dose_time", sa.String(length=10), nullable=False),
        sa.Column("itch_nrs", sa.Float(), nullable=True),
        sa.Column("pasi", sa.Float(), nullable=True),
        sa.Column("bsa_percent", sa.Float(), nullable=True),
        sa.Column("dlqi", sa.Float(), nullable=True),
        sa.Column("lppai", sa.Float(), nullable=True),
        sa.Column("investigator_global", sa.Float(), nullable=True),
        sa.Column("investigator_global_scale", sa.String(length=10), nullable=True),
        sa.Column("adherence", sa.String(length=10), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("client_token", sa.String(length=64), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("dose_time IN ('morning', 'bedtime')", name=op.f("ck_visits_dose_time")),
        sa.CheckConstraint(
            "bsa_percent IS NULL OR (bsa_percent >= 0 AND bsa_percent <= 100)",
            name=op.f("ck_visits_bsa"),
        ),
        sa.CheckConstraint(
            "dlqi IS NULL OR (dlqi >= 0 AND dlqi <= 30)", name=op.f("ck_visits_dlqi")
        ),
        sa.CheckConstraint("dose_mg >= 0 AND dose_mg <= 100", name=op.f("ck_visits_dose_mg")),
        sa.CheckConstraint(
            "investigator_global IS NULL OR (investigator_global >= 0 AND investigator_global <= 4 "
            "AND investigator_global_scale IS NOT NULL)",
            name=op.f("ck_visits_investigator_global"),
        ),
        sa.CheckConstraint(
            "itch_nrs IS NULL OR (itch_nrs >= 0 AND itch_nrs <= 10)",
            name=op.f("ck_visits_itch_nrs"),
        ),
        sa.CheckConstraint(
            "lppai IS NULL OR (lppai >= 0 AND lppai <= 10)", name=op.f("ck_visits_lppai")
        ),
        sa.CheckConstraint(
            "pasi IS NULL OR (pasi >= 0 AND pasi <= 72)", name=op.f("ck_visits_pasi")
        ),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
            name=op.f("fk_visits_course_id_courses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_visits_created_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visits")),
        sa.UniqueConstraint("course_id", "client_token", name=op.f("uq_visits_course_id")),
    )
    op.create_index("ix_visits_course_date", "visits", ["course_id", "visit_date"], unique=False)

    op.create_table(
        "visit_side_effects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("effect", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("detail", sa.String(length=200), nullable=True),
        sa.CheckConstraint(
            "severity IN ('mild', 'moderate', 'severe')",
            name=op.f("ck_visit_side_effects_severity"),
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["visits.id"],
            name=op.f("fk_visit_side_effects_visit_id_visits"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_side_effects")),
        sa.UniqueConstraint("visit_id", "effect", name=op.f("uq_visit_side_effects_visit_id")),
    )
    op.create_index(
        op.f("ix_visit_side_effects_visit_id"), "visit_side_effects", ["visit_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_visit_side_effects_visit_id"), table_name="visit_side_effects")

    op.drop_table("visit_side_effects")
    op.drop_index("ix_visits_course_date", table_name="visits")

    op.drop_table("visits")
    op.drop_index(op.f("ix_web_sessions_user_id"), table_name="web_sessions")

    op.drop_table("web_sessions")
    op.drop_table("patient_identities")
    op.drop_index(op.f("ix_courses_patient_id"), table_name="courses")
    op.drop_index(op.f("ix_courses_condition_id"), table_name="courses")

    op.drop_table("courses")
    op.drop_table("users")
    op.drop_index(op.f("ix_patients_clinic_id"), table_name="patients")

    op.drop_table("patients")
    op.drop_index("ix_login_attempts_key", table_name="login_attempts")

    op.drop_table("login_attempts")
    op.drop_table("clinics")
    op.drop_index(op.f("ix_audit_events_patient_pseudonym"), table_name="audit_events")
    op.drop_index(op.f("ix_audit_events_at"), table_name="audit_events")

    op.drop_table("audit_events")
