"""Self-scheduling settings and scheduler configs: `config` scope writes, `scheduling` reads.

Rules a body must satisfy (including the fixed vs selectable decision) are documented in
`app.selfscheduling.validation`.
"""

from __future__ import annotations

from litestar import Controller, Request, delete, get, post, put
from litestar.params import FromQuery

from app.core.db import transaction
from app.core.http import Cursor, DbPool, JSONBody, Limit, PathId
from app.core.pagination import DEFAULT_LIMIT, check_limit, decode_cursor
from app.partners.guard import scope
from app.partners.scopes import CONFIG, SCHEDULING
from app.selfscheduling import schemas as s
from app.selfscheduling import store, validation

_ID_LISTS = ("practitioner_ids", "location_ids", "appointment_type_ids")


def _https_only(request: Request) -> bool:
    return request.app.state.settings.is_production


class SettingController(Controller):
    path = "/self-scheduling/setting"
    tags = ["self-scheduling settings"]

    @get("/", opt=scope(SCHEDULING))
    async def list_settings(
        self,
        pool: DbPool,
        account_id: PathId,
        active: FromQuery[bool | None] = None,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> s.SettingPage:
        async with pool.acquire() as conn:
            rows, next_cursor = await store.list_settings(
                conn,
                account_id,
                after_id=decode_cursor(cursor),
                limit=check_limit(limit),
                active=active,
            )
            configs = await store.configs_by_setting(conn, account_id, [r["id"] for r in rows])
        return s.SettingPage([store.to_setting(r, configs[r["id"]]) for r in rows], next_cursor)

    @get("/{setting_id:int}", opt=scope(SCHEDULING))
    async def get_setting(self, pool: DbPool, account_id: PathId, setting_id: PathId) -> s.Setting:
        async with pool.acquire() as conn:
            row = await store.get_setting(conn, account_id, setting_id)
            configs = await store.list_configs(conn, account_id, setting_id)
        return store.to_setting(row, configs)

    @post("/", opt=scope(CONFIG))
    async def create_setting(
        self, request: Request, pool: DbPool, account_id: PathId, data: JSONBody[s.SettingIn]
    ) -> s.Setting:
        changes = validation.setting_changes(data, https_only=_https_only(request))
        async with transaction(pool) as conn:
            await validation.check_setting_references(conn, account_id, changes)
            validation.settle_setting(validation.NEW_SETTING, changes)
            row = await store.insert_setting(conn, account_id, changes)
        return store.to_setting(row, [])

    @put("/{setting_id:int}", opt=scope(CONFIG))
    async def update_setting(
        self,
        request: Request,
        pool: DbPool,
        account_id: PathId,
        setting_id: PathId,
        data: JSONBody[s.SettingPatch],
    ) -> s.Setting:
        async with transaction(pool) as conn:
            row = await store.get_setting(conn, account_id, setting_id, lock="UPDATE")
            changes = validation.setting_changes(data, https_only=_https_only(request))
            await validation.check_setting_references(conn, account_id, changes)
            merged = validation.settle_setting(store.setting_state(row), changes)
            if any(column in changes for column in _ID_LISTS):
                await validation.check_configs_still_fit(conn, account_id, setting_id, merged)
            row = await store.update_setting(conn, account_id, setting_id, changes)
            configs = await store.list_configs(conn, account_id, setting_id)
        return store.to_setting(row, configs)

    @delete("/{setting_id:int}", opt=scope(CONFIG))
    async def delete_setting(self, pool: DbPool, account_id: PathId, setting_id: PathId) -> None:
        await store.delete_setting(pool, account_id, setting_id)


class SchedulerConfigController(Controller):
    path = "/self-scheduling/setting/{setting_id:int}/scheduler-config"
    tags = ["scheduler configs"]

    @get("/", operation_id="listSchedulerConfigs", opt=scope(SCHEDULING))
    async def list_configs(
        self, pool: DbPool, account_id: PathId, setting_id: PathId
    ) -> s.SchedulerConfigList:
        async with pool.acquire() as conn:
            await store.get_setting(conn, account_id, setting_id)
            rows = await store.list_configs(conn, account_id, setting_id)
        return s.SchedulerConfigList([store.to_config(r) for r in rows])

    @get("/{config_id:int}", operation_id="getSchedulerConfig", opt=scope(SCHEDULING))
    async def get_config(
        self, pool: DbPool, account_id: PathId, setting_id: PathId, config_id: PathId
    ) -> s.SchedulerConfig:
        async with pool.acquire() as conn:
            await store.get_setting(conn, account_id, setting_id)
            row = await store.get_config(conn, account_id, setting_id, config_id)
        return store.to_config(row)

    @post("/", operation_id="createSchedulerConfig", opt=scope(CONFIG))
    async def create_config(
        self,
        pool: DbPool,
        account_id: PathId,
        setting_id: PathId,
        data: JSONBody[s.SchedulerConfigIn],
    ) -> s.SchedulerConfig:
        async with transaction(pool) as conn:
            setting = await store.get_setting(conn, account_id, setting_id, lock="SHARE")
            changes = validation.config_changes(data)
            await validation.check_config_references(conn, account_id, setting, changes)
            row = await store.insert_config(conn, account_id, setting_id, changes)
        return store.to_config(row)

    @put("/{config_id:int}", operation_id="updateSchedulerConfig", opt=scope(CONFIG))
    async def update_config(
        self,
        pool: DbPool,
        account_id: PathId,
        setting_id: PathId,
        config_id: PathId,
        data: JSONBody[s.SchedulerConfigPatch],
    ) -> s.SchedulerConfig:
        async with transaction(pool) as conn:
            setting = await store.get_setting(conn, account_id, setting_id, lock="SHARE")
            await store.get_config(conn, account_id, setting_id, config_id, for_update=True)
            changes = validation.config_changes(data)
            await validation.check_config_references(conn, account_id, setting, changes)
            row = await store.update_config(conn, account_id, config_id, changes)
        return store.to_config(row)

    @delete("/{config_id:int}", operation_id="deleteSchedulerConfig", opt=scope(CONFIG))
    async def delete_config(
        self, pool: DbPool, account_id: PathId, setting_id: PathId, config_id: PathId
    ) -> None:
        async with pool.acquire() as conn:
            await store.get_setting(conn, account_id, setting_id)
            await store.delete_config(conn, account_id, setting_id, config_id)
