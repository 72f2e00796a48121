-- One database per service: each service owns its tables (DESIGN.md).
CREATE DATABASE crm_contacts;
CREATE DATABASE crm_pipeline;
CREATE DATABASE crm_tasks;
CREATE DATABASE crm_analytics;
