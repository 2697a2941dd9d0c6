"""The agent's side of the sandbox: every WorkBench tool as a roibench tool.

Tool names are upstream's `<toolkit>.<function>` with the '.' written `__` (see `calls.py`);
parameters, defaults and write flags are upstream's. A JSON number or boolean argument reaches
the tool as its text (`30` -> "30"), as upstream's tools receive it once its grader has
re-read the call. `env_class(toolkits)` is the env with only some toolkits' tools (the paper's
"domain toolkits only" setting); the full class has all of them.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from roibench.config.tasks import Task
from roibench.workflow import Env, ToolError, tool

from .calls import Toolkit, openai_name, toolkit_of
from .data import WorkBenchData
from .sandbox import Json, Sandbox, SandboxError


def _as_text(value: Any) -> Any:
    """JSON numbers and booleans as the text upstream's call strings give them."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value)
    return value


Text = Annotated[str | None, BeforeValidator(_as_text)]


def _arg(description: str) -> Any:
    return Field(description=description)


DATE = 'Format "YYYY-MM-DD".'
DATETIME = 'Format "YYYY-MM-DD HH:MM:SS".'


class WorkBenchEnv(Env):
    """Email, calendar, web analytics, CRM, project management and the company directory of
    one WorkBench sandbox (Sam's workplace at Atlas)."""

    def __init__(self, task: Task, data: WorkBenchData | None = None) -> None:
        super().__init__(task)  # initial_state holds only the task's metadata
        if data is None:
            raise ValueError("WorkBenchEnv needs the workflow's data (use workflow.new_env)")
        self.sandbox = Sandbox(data)

    def _run(self, tool_name: str, **args: str | None) -> Json:
        try:
            return self.sandbox.run(tool_name, args)
        except SandboxError as exc:
            raise ToolError(str(exc)) from None

    # -- analytics ---------------------------------------------------------------------------

    @tool
    def analytics__get_visitor_information_by_id(
        self, visitor_id: Annotated[Text, _arg("ID of the visitor.")] = None
    ) -> Json:
        """Return the analytics records (date_of_visit, visitor_id, page_views,
        session_duration_seconds, traffic_source, user_engaged) of a visitor ID."""
        return self._run("analytics.get_visitor_information_by_id", visitor_id=visitor_id)

    @tool(write=True)
    def analytics__create_plot(
        self,
        time_min: Annotated[Text, _arg(f"Start date of the time range. {DATE}")] = None,
        time_max: Annotated[Text, _arg(f"End date of the time range. {DATE}")] = None,
        value_to_plot: Annotated[
            Text,
            _arg(
                'One of "total_visits", "session_duration_seconds", "user_engaged", '
                '"visits_direct", "visits_referral", "visits_search_engine", '
                '"visits_social_media".'
            ),
        ] = None,
        plot_type: Annotated[Text, _arg('"bar", "line", "scatter" or "histogram".')] = None,
    ) -> Json:
        """Plot an analytics value over a date range; returns the plot's file path,
        plots/{time_min}_{time_max}_{value_to_plot}_{plot_type}.png."""
        return self._run(
            "analytics.create_plot",
            time_min=time_min,
            time_max=time_max,
            value_to_plot=value_to_plot,
            plot_type=plot_type,
        )

    @tool
    def analytics__total_visits_count(
        self,
        time_min: Annotated[Text, _arg(f"Start date. {DATE}")] = None,
        time_max: Annotated[Text, _arg(f"End date. {DATE}")] = None,
    ) -> Json:
        """The number of visits on each day of a date range, as {date: count}."""
        return self._run("analytics.total_visits_count", time_min=time_min, time_max=time_max)

    @tool
    def analytics__engaged_users_count(
        self,
        time_min: Annotated[Text, _arg(f"Start date. {DATE}")] = None,
        time_max: Annotated[Text, _arg(f"End date. {DATE}")] = None,
    ) -> Json:
        """The number of engaged users on each day of a date range, as {date: count}."""
        return self._run("analytics.engaged_users_count", time_min=time_min, time_max=time_max)

    @tool
    def analytics__traffic_source_count(
        self,
        time_min: Annotated[Text, _arg(f"Start date. {DATE}")] = None,
        time_max: Annotated[Text, _arg(f"End date. {DATE}")] = None,
        traffic_source: Annotated[
            Text, _arg('"direct", "referral", "search engine" or "social media".')
        ] = None,
    ) -> Json:
        """The number of visits from a traffic source on each day of a date range, as
        {date: count}."""
        return self._run(
            "analytics.traffic_source_count",
            time_min=time_min,
            time_max=time_max,
            traffic_source=traffic_source,
        )

    @tool
    def analytics__get_average_session_duration(
        self,
        time_min: Annotated[Text, _arg(f"Start date. {DATE}")] = None,
        time_max: Annotated[Text, _arg(f"End date. {DATE}")] = None,
    ) -> Json:
        """The average session duration in seconds on each day of a date range, as
        {date: seconds}."""
        return self._run(
            "analytics.get_average_session_duration", time_min=time_min, time_max=time_max
        )

    # -- calendar ------------------------------------------------------------------------------

    @tool
    def calendar__get_event_information_by_id(
        self,
        event_id: Annotated[Text, _arg("8-digit ID of the event.")] = None,
        field: Annotated[
            Text,
            _arg('"event_id", "event_name", "participant_email", "event_start" or "duration".'),
        ] = None,
    ) -> Json:
        """One field of a calendar event, as {field: value}."""
        return self._run("calendar.get_event_information_by_id", event_id=event_id, field=field)

    @tool
    def calendar__search_events(
        self,
        query: Annotated[
            Text, Field(description="Matched in event_name and participant_email.")
        ] = "",
        time_min: Annotated[Text, _arg(f"Earliest event start. {DATETIME}")] = None,
        time_max: Annotated[Text, _arg(f"Latest event start. {DATETIME}")] = None,
    ) -> Json:
        """Calendar events matching a query (event_id, event_name, participant_email,
        event_start, duration in minutes); at most 5."""
        return self._run(
            "calendar.search_events", query=query, time_min=time_min, time_max=time_max
        )

    @tool(write=True)
    def calendar__create_event(
        self,
        event_name: Annotated[Text, _arg("Name of the event.")] = None,
        participant_email: Annotated[Text, _arg("Email address of the participant.")] = None,
        event_start: Annotated[Text, _arg(f"Start time. {DATETIME}")] = None,
        duration: Annotated[Text, _arg("Duration in minutes.")] = None,
    ) -> Json:
        """Create a calendar event; returns the new event's ID."""
        return self._run(
            "calendar.create_event",
            event_name=event_name,
            participant_email=participant_email,
            event_start=event_start,
            duration=duration,
        )

    @tool(write=True)
    def calendar__delete_event(
        self, event_id: Annotated[Text, _arg("8-digit ID of the event.")] = None
    ) -> Json:
        """Delete a calendar event."""
        return self._run("calendar.delete_event", event_id=event_id)

    @tool(write=True)
    def calendar__update_event(
        self,
        event_id: Annotated[Text, _arg("8-digit ID of the event.")] = None,
        field: Annotated[Text, _arg("Field to update.")] = None,
        new_value: Annotated[Text, _arg("New value for the field.")] = None,
    ) -> Json:
        """Change one field of a calendar event."""
        return self._run(
            "calendar.update_event", event_id=event_id, field=field, new_value=new_value
        )

    # -- company directory ---------------------------------------------------------------------

    @tool
    def company_directory__find_email_address(
        self,
        name: Annotated[Text, Field(description="Name of the person.")] = "",
    ) -> Json:
        """The email addresses of the employees whose address contains the name."""
        return self._run("company_directory.find_email_address", name=name)

    # -- customer relationship manager -----------------------------------------------------------

    @tool
    def customer_relationship_manager__search_customers(
        self,
        customer_name: Annotated[Text, _arg("Name of the customer.")] = None,
        customer_email: Annotated[Text, _arg("Email address of the customer.")] = None,
        product_interest: Annotated[Text, _arg("Product interest of the customer.")] = None,
        status: Annotated[Text, _arg("Current status of the customer.")] = None,
        assigned_to_email: Annotated[
            Text, _arg("Email address of the person assigned to the customer.")
        ] = None,
        last_contact_date_min: Annotated[Text, _arg(f"Earliest last contact date. {DATE}")] = None,
        last_contact_date_max: Annotated[Text, _arg(f"Latest last contact date. {DATE}")] = None,
        follow_up_by_min: Annotated[Text, _arg(f"Earliest follow-up date. {DATE}")] = None,
        follow_up_by_max: Annotated[Text, _arg(f"Latest follow-up date. {DATE}")] = None,
    ) -> Json:
        """CRM customer records matching every given parameter (customer_id,
        assigned_to_email, customer_name, customer_email, customer_phone, last_contact_date,
        product_interest, status, follow_up_by, notes); at most 5."""
        return self._run(
            "customer_relationship_manager.search_customers",
            customer_name=customer_name,
            customer_email=customer_email,
            product_interest=product_interest,
            status=status,
            assigned_to_email=assigned_to_email,
            last_contact_date_min=last_contact_date_min,
            last_contact_date_max=last_contact_date_max,
            follow_up_by_min=follow_up_by_min,
            follow_up_by_max=follow_up_by_max,
        )

    @tool(write=True)
    def customer_relationship_manager__update_customer(
        self,
        customer_id: Annotated[Text, _arg("ID of the customer.")] = None,
        field: Annotated[
            Text,
            _arg(
                '"customer_name", "assigned_to_email", "customer_email", "customer_phone", '
                '"last_contact_date", "product_interest", "status", "notes" or "follow_up_by".'
            ),
        ] = None,
        new_value: Annotated[Text, _arg("New value for the field.")] = None,
    ) -> Json:
        """Change one field of a CRM customer record."""
        return self._run(
            "customer_relationship_manager.update_customer",
            customer_id=customer_id,
            field=field,
            new_value=new_value,
        )

    @tool(write=True)
    def customer_relationship_manager__add_customer(
        self,
        customer_name: Annotated[Text, _arg("Name of the customer (required).")] = None,
        assigned_to_email: Annotated[
            Text, _arg("Email address of the person assigned to the customer (required).")
        ] = None,
        status: Annotated[
            Text, _arg('Required; "Qualified", "Won", "Lost", "Lead" or "Proposal".')
        ] = None,
        customer_email: Annotated[Text, _arg("Email address of the customer.")] = None,
        customer_phone: Annotated[Text, _arg("Phone number of the customer.")] = None,
        last_contact_date: Annotated[Text, _arg(f"Last contact date. {DATE}")] = None,
        product_interest: Annotated[
            Text, _arg('"Software", "Hardware", "Services", "Consulting" or "Training".')
        ] = None,
        notes: Annotated[Text, Field(description="Notes about the customer.")] = "",
        follow_up_by: Annotated[Text, _arg(f"Date for the next follow-up. {DATE}")] = None,
    ) -> Json:
        """Add a CRM customer record; returns the new customer's ID."""
        return self._run(
            "customer_relationship_manager.add_customer",
            customer_name=customer_name,
            assigned_to_email=assigned_to_email,
            status=status,
            customer_email=customer_email,
            customer_phone=customer_phone,
            last_contact_date=last_contact_date,
            product_interest=product_interest,
            notes=notes,
            follow_up_by=follow_up_by,
        )

    @tool(write=True)
    def customer_relationship_manager__delete_customer(
        self, customer_id: Annotated[Text, _arg("ID of the customer.")] = None
    ) -> Json:
        """Delete a CRM customer record."""
        return self._run("customer_relationship_manager.delete_customer", customer_id=customer_id)

    # -- email -----------------------------------------------------------------------------------

    @tool
    def email__get_email_information_by_id(
        self,
        email_id: Annotated[Text, _arg("ID of the email.")] = None,
        field: Annotated[
            Text,
            _arg(
                'Field to return: "email_id", "inbox/outbox", "sender/recipient", "subject", '
                '"sent_datetime" or "body".'
            ),
        ] = None,
    ) -> Json:
        """One field of an email, as {field: value}."""
        return self._run("email.get_email_information_by_id", email_id=email_id, field=field)

    @tool
    def email__search_emails(
        self,
        query: Annotated[
            Text,
            Field(description="Words that must all appear in subject, body or sender."),
        ] = "",
        date_min: Annotated[Text, _arg(f"Earliest sent date, inclusive. {DATE}")] = None,
        date_max: Annotated[Text, _arg(f"Latest sent date, inclusive. {DATE}")] = None,
    ) -> Json:
        """Emails (inbox and outbox) matching a query, newest first; at most 5."""
        return self._run("email.search_emails", query=query, date_min=date_min, date_max=date_max)

    @tool(write=True)
    def email__send_email(
        self,
        recipient: Annotated[Text, _arg("Email address of the recipient.")] = None,
        subject: Annotated[Text, _arg("Subject line.")] = None,
        body: Annotated[Text, _arg("Body of the email.")] = None,
    ) -> Json:
        """Send an email."""
        return self._run("email.send_email", recipient=recipient, subject=subject, body=body)

    @tool(write=True)
    def email__delete_email(
        self, email_id: Annotated[Text, _arg("ID of the email.")] = None
    ) -> Json:
        """Delete an email."""
        return self._run("email.delete_email", email_id=email_id)

    @tool(write=True)
    def email__forward_email(
        self,
        email_id: Annotated[Text, _arg("ID of the email to forward.")] = None,
        recipient: Annotated[Text, _arg("Email address of the recipient.")] = None,
    ) -> Json:
        """Forward an email to a recipient."""
        return self._run("email.forward_email", email_id=email_id, recipient=recipient)

    @tool(write=True)
    def email__reply_email(
        self,
        email_id: Annotated[Text, _arg("ID of the email to reply to.")] = None,
        body: Annotated[Text, _arg("Body of the reply.")] = None,
    ) -> Json:
        """Reply to an email (to its sender, with its subject)."""
        return self._run("email.reply_email", email_id=email_id, body=body)

    # -- project management ---------------------------------------------------------------------

    @tool
    def project_management__get_task_information_by_id(
        self,
        task_id: Annotated[Text, _arg("8-digit ID of the task.")] = None,
        field: Annotated[
            Text,
            _arg(
                '"task_id", "task_name", "assigned_to_email", "list_name", "due_date" or "board".'
            ),
        ] = None,
    ) -> Json:
        """One field of a project task, as {field: value}."""
        return self._run(
            "project_management.get_task_information_by_id", task_id=task_id, field=field
        )

    @tool
    def project_management__search_tasks(
        self,
        task_name: Annotated[Text, _arg("Name of the task.")] = None,
        assigned_to_email: Annotated[Text, _arg("Email address of the assignee.")] = None,
        list_name: Annotated[Text, _arg("List the task is on.")] = None,
        due_date: Annotated[Text, _arg(f"Due date. {DATE}")] = None,
        board: Annotated[Text, _arg("Board the task is on.")] = None,
    ) -> Json:
        """Project tasks matching every given parameter (task_id, task_name,
        assigned_to_email, list_name, due_date, board)."""
        return self._run(
            "project_management.search_tasks",
            task_name=task_name,
            assigned_to_email=assigned_to_email,
            list_name=list_name,
            due_date=due_date,
            board=board,
        )

    @tool(write=True)
    def project_management__create_task(
        self,
        task_name: Annotated[Text, _arg("Name of the task.")] = None,
        assigned_to_email: Annotated[Text, _arg("Email address of the assignee.")] = None,
        list_name: Annotated[
            Text, _arg('"Backlog", "In Progress", "In Review" or "Completed".')
        ] = None,
        due_date: Annotated[Text, _arg(f"Due date. {DATE}")] = None,
        board: Annotated[Text, _arg('"Back end", "Front end" or "Design".')] = None,
    ) -> Json:
        """Create a project task; returns the new task's ID."""
        return self._run(
            "project_management.create_task",
            task_name=task_name,
            assigned_to_email=assigned_to_email,
            list_name=list_name,
            due_date=due_date,
            board=board,
        )

    @tool(write=True)
    def project_management__delete_task(
        self, task_id: Annotated[Text, _arg("8-digit ID of the task.")] = None
    ) -> Json:
        """Delete a project task."""
        return self._run("project_management.delete_task", task_id=task_id)

    @tool(write=True)
    def project_management__update_task(
        self,
        task_id: Annotated[Text, _arg("8-digit ID of the task.")] = None,
        field: Annotated[
            Text,
            _arg('"task_name", "assigned_to_email", "list_name", "due_date" or "board".'),
        ] = None,
        new_value: Annotated[Text, _arg("New value for the field.")] = None,
    ) -> Json:
        """Change one field of a project task."""
        return self._run(
            "project_management.update_task", task_id=task_id, field=field, new_value=new_value
        )


@cache
def env_class(toolkits: frozenset[Toolkit]) -> type[WorkBenchEnv]:
    """WorkBenchEnv with only the tools of `toolkits` (every toolkit: WorkBenchEnv itself)."""
    if toolkits >= frozenset(Toolkit):
        return WorkBenchEnv
    hidden = {name: None for name in WorkBenchEnv.tool_specs() if toolkit_of(name) not in toolkits}
    label = "_".join(sorted(t.value for t in toolkits))
    return type(f"WorkBenchEnv__{label}", (WorkBenchEnv,), hidden)


def tool_name(dotted: str) -> str:
    """The roibench tool name of an upstream tool (`email.send_email` -> `email__send_email`)."""
    return openai_name(dotted)
